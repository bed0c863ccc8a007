"""Settings: the only place the environment is read (FORECAST_* variables)."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.ml.device import is_device_name


class Settings(BaseSettings):
    """Typed service settings; a bad value stops the service at start with a clear message."""

    model_config = SettingsConfigDict(
        env_prefix="FORECAST_",
        env_file=".env",
        extra="ignore",
        hide_input_in_errors=True,  # a rejected value may be a secret (an API key)
    )

    host: str = Field("127.0.0.1", description="address the HTTP server binds")
    port: int = Field(8000, ge=1, le=65535, description="port the HTTP server binds")
    database_url: str = Field(
        "sqlite:///var/forecast.db", description="SQLAlchemy URL of the job and dataset store"
    )
    models_dir: Path = Field(Path("models"), description="checkpoint store")
    datasets_dir: Path = Field(
        Path("var/datasets"),
        description="uploaded datasets' files (Parquet); every API process and worker reads "
        "the same folder, as they do the checkpoint store",
    )
    device: str = Field(
        "auto",
        description="serving device, and the training device of jobs that ask for auto: "
        "auto, cpu, cuda or cuda:N",
    )
    workers: int = Field(
        1, ge=0, le=64, description="training jobs run at once in local worker processes"
    )
    serve_threads: int = Field(
        1,
        ge=1,
        le=256,
        description="torch CPU threads of the API process for forecasts (measured: one thread "
        "is fastest for these small models, and far faster when training shares the cores)",
    )
    batch_window_ms: float = Field(
        1.0,
        ge=0,
        le=2,
        description="forecasts that queue behind a rollout of the same model version wait this "
        "much longer for company, then run as one batched rollout (a lone forecast never waits)",
    )
    train_threads: int = Field(
        1,
        ge=1,
        le=256,
        description="torch CPU threads per training job (small LSTMs run best on 1)",
    )
    search_parallel: int = Field(
        2,
        ge=1,
        le=64,
        description="candidate configurations a job's search (training.search_trials) fits "
        "at once, each in a thread of the job's process",
    )
    model_cache_size: int = Field(8, ge=1, le=1024, description="loaded model versions kept")
    max_upload_bytes: int = Field(
        50 * 1024 * 1024, ge=1024, description="largest request body, checked while reading"
    )
    max_dataset_rows: int = Field(
        1_000_000, ge=10, description="most rows in a dataset, over all its series together"
    )
    max_series: int = Field(10_000, ge=1, description="most series in one dataset")
    max_series_id_length: int = Field(
        64, ge=1, le=1024, description="longest series id in a many-series dataset, in characters"
    )
    max_dataset_columns: int = Field(64, ge=1, le=4096, description="most columns in a series")
    max_train_seconds: float = Field(
        3600,
        gt=0,
        description="a job, fitting and then measuring, ends within it (fitting stops at 80%, "
        "keeping its best weights so far)",
    )
    max_train_memory_mb: int = Field(
        4096, ge=16, description="largest estimated activation memory of a training batch"
    )
    max_horizon: int = Field(10_000, ge=1, description="most forecast steps per request")
    max_contexts: int = Field(1024, ge=1, description="most contexts in one forecast request")
    max_context_rows: int = Field(
        10_000, ge=1, description="most rows in one forecast context (a lookback is at most 10,000)"
    )
    max_forecast_values: int = Field(
        2_000_000, ge=1, description="most values (contexts x horizon x columns) in one response"
    )
    max_forecast_gflop: float = Field(
        200.0, gt=0, description="most estimated work of one forecast, in GFLOP"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # -- slow clients: every phase of a request has a deadline ----------------------------
    header_timeout_seconds: float = Field(
        10.0, gt=0, le=3600, description="a connection whose request headers take longer is closed"
    )
    body_timeout_seconds: float = Field(
        120.0, gt=0, le=86400, description="a connection whose request body takes longer is closed"
    )
    keep_alive_seconds: int = Field(
        5, ge=1, le=3600, description="an idle keep-alive connection is closed after this"
    )
    max_connections: int = Field(
        1000, ge=1, le=1_000_000, description="connections served at once; past it, 503"
    )
    max_event_streams: int = Field(
        256,
        ge=1,
        le=100_000,
        description="job event streams open at once; past it a new stream answers 503 with "
        "Retry-After and its client polls (each holds a connection: keep it under "
        "max_connections)",
    )

    # -- scale-out: a queue executor, heartbeats and the reaper ---------------------------
    broker_url: str | None = Field(
        None,
        description="Celery broker (e.g. redis://127.0.0.1:6379/0); unset: local worker processes",
    )
    queue_name: str = Field(
        "forecast-training", min_length=1, max_length=200, description="the broker's job queue"
    )
    heartbeat_seconds: float = Field(
        5.0, gt=0, le=600, description="how often a running job writes its heartbeat"
    )
    heartbeat_timeout_seconds: float = Field(
        60.0, gt=0, description="a running job silent this long has lost its worker"
    )
    max_attempts: int = Field(
        2, ge=1, le=10, description="runs a job gets when its workers are lost (2: re-queued once)"
    )
    worker_metrics_host: str = Field("127.0.0.1", description="address of a worker's /metrics")
    worker_metrics_port: int = Field(9101, ge=0, le=65535, description="0 turns it off")

    # -- access control ---------------------------------------------------------------------
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (), description="comma-separated bearer keys; empty: no key asked (loopback only)"
    )
    auth_disabled: bool = Field(
        False, description="serve a non-loopback address without keys (behind your own proxy)"
    )
    metrics_public: bool = Field(False, description="/metrics needs no key")
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="comma-separated host names or addresses a service without keys answers "
        "to besides localhost, 127.0.0.1, [::1] and FORECAST_HOST (a request naming another in "
        "its Host header gets 421); * answers any",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(key.strip() for key in value.split(",") if key.strip())
        return value

    @field_validator("api_keys")
    @classmethod
    def _long_keys(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if any(len(key.get_secret_value()) < 16 for key in value):
            raise ValueError("every API key needs at least 16 characters")
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _bare_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple("*" if name == "*" else host_name(name) for name in value)
        if None in names:
            raise ValueError(
                "FORECAST_ALLOWED_HOSTS takes host names or addresses without scheme or port "
                "(e.g. forecast.internal,10.0.0.5,[fd00::5]), or *"
            )
        return tuple(dict.fromkeys(name for name in names if name is not None))

    @model_validator(mode="after")
    def _any_host_only_behind_a_check(self) -> Self:
        if "*" in self.allowed_hosts and not (self.auth_disabled or self.api_keys):
            raise ValueError(
                "FORECAST_ALLOWED_HOSTS=* answers any Host, which turns off the check that keeps "
                "a DNS-rebinding page out of a service without keys: name the hosts, or give * "
                "only with FORECAST_AUTH_DISABLED (a proxy in front checks the host)"
            )
        return self

    @model_validator(mode="after")
    def _heartbeats_fit(self) -> Self:
        if self.heartbeat_timeout_seconds < 3 * self.heartbeat_seconds * (1 - 1e-9):  # 3 x 0.2
            raise ValueError(
                "heartbeat_timeout_seconds must be at least 3 x heartbeat_seconds, so that one "
                "slow write does not count as a lost worker"
            )
        return self

    @property
    def auth_required(self) -> bool:
        """Whether requests need a key: whenever keys are configured."""
        return bool(self.api_keys)

    def answered_hosts(self) -> frozenset[str]:
        """The host names (as `host_name` writes them) a service without keys answers to:
        loopback's, the bound address unless it means every interface, and ALLOWED_HOSTS."""
        names = {*LOOPBACK_NAMES, *self.allowed_hosts}
        bound = host_name(self.host)
        if bound is not None and not _is_unspecified(bound):
            names.add(bound)
        return frozenset(names)

    def unsafe_bind(self) -> str | None:
        """Why serving on `host` would be unsafe (no key off loopback), or None."""
        if self.api_keys or self.auth_disabled or is_loopback(self.host):
            return None
        return (
            f"refusing to serve on {self.host} with no API key: set FORECAST_API_KEYS (comma-"
            "separated), or FORECAST_AUTH_DISABLED=true if a proxy in front checks access"
        )

    @field_validator("device")
    @classmethod
    def _device_name(cls, value: str) -> str:
        if not is_device_name(value):
            raise ValueError("must be auto, cpu, cuda or cuda:N")
        return value


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")


def host_name(text: str) -> str | None:
    """`text` as host names are compared: lowercase, an IPv6 address without brackets and
    compressed, no final dot; None if it is neither a host name nor an address."""
    name = text.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    elif not name.startswith("["):
        name = name.removesuffix(".")
        if _NAME.fullmatch(name):
            return name
    try:
        return str(ipaddress.IPv6Address(name))
    except ValueError:
        return None


def _is_unspecified(name: str) -> bool:
    """Whether `name` is an address that means every interface (0.0.0.0, ::)."""
    try:
        return ipaddress.ip_address(name).is_unspecified
    except ValueError:
        return False


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
