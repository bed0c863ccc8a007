"""Settings: the only place the environment is read (FORECAST_* variables)."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.ml.device import is_device_name


class Settings(BaseSettings):
    """Typed service settings; a bad value stops the service at start with a clear message."""

    model_config = SettingsConfigDict(env_prefix="FORECAST_", env_file=".env", extra="ignore")

    host: str = Field("127.0.0.1", description="address the HTTP server binds")
    port: int = Field(8000, ge=1, le=65535, description="port the HTTP server binds")
    database_url: str = Field(
        "sqlite:///var/forecast.db", description="SQLAlchemy URL of the job and dataset store"
    )
    models_dir: Path = Field(Path("models"), description="checkpoint store")
    device: str = Field("auto", description="serving device: auto, cpu, cuda or cuda:N")
    workers: int = Field(
        1, ge=0, le=64, description="training jobs run at once in local worker processes"
    )
    train_threads: int = Field(
        1,
        ge=1,
        le=256,
        description="torch CPU threads per training job (small LSTMs run best on 1)",
    )
    model_cache_size: int = Field(8, ge=1, le=1024, description="loaded model versions kept")
    max_upload_bytes: int = Field(
        50 * 1024 * 1024, ge=1024, description="largest request body, checked while reading"
    )
    max_dataset_rows: int = Field(1_000_000, ge=10, description="most rows in a series")
    max_dataset_columns: int = Field(64, ge=1, le=4096, description="most columns in a series")
    max_train_seconds: float = Field(
        3600, gt=0, description="a job stops there, keeping its best weights so far"
    )
    max_train_memory_mb: int = Field(
        4096, ge=16, description="largest estimated activation memory of a training batch"
    )
    max_horizon: int = Field(10_000, ge=1, description="most forecast steps per request")
    max_contexts: int = Field(1024, ge=1, description="most contexts in one forecast request")
    max_forecast_values: int = Field(
        2_000_000, ge=1, description="most values (contexts x horizon x columns) in one response"
    )
    max_forecast_gflop: float = Field(
        200.0, gt=0, description="most estimated work of one forecast, in GFLOP"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("device")
    @classmethod
    def _device_name(cls, value: str) -> str:
        if not is_device_name(value):
            raise ValueError("must be auto, cpu, cuda or cuda:N")
        return value


def configure_logging(level: str) -> None:
    """One line per record, to stderr: the API process and every worker process alike."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
