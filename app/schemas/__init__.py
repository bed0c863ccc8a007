"""The API contract: request and response models, apart from tables and ML configs."""
