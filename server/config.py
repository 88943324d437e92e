"""Typed configuration, loaded once: defaults, then a TOML file, then ``AULA_*`` environment variables.

Every option lives in one section of the TOML file (see ``aula.sample.toml``) and can be overridden by the
environment variable ``AULA_<OPTION>`` (option names are unique across sections). Nothing else in the
project reads ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from server.auth.addresses import parse_network
from server.db.models import ALL_RECORDING_MODES

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range."""


@dataclass(frozen=True)
class ServerSection:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    allowed_origins: tuple[str, ...] = ()
    data_dir: Path = Path("data")
    web_dir: Path = WEB_DIR
    max_body_bytes: int = 1_048_576
    log_level: str = "INFO"
    log_format: str = "json"


@dataclass(frozen=True)
class AuthSection:
    admin_password: str = ""
    session_secret_file: Path | None = None
    session_max_age: int = 12 * 3600
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 20
    login_failure_window: int = 900
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatabaseSection:
    database_url: str = ""


@dataclass(frozen=True)
class ClassroomSection:
    default_seat_limit: int = 30
    max_seat_limit: int = 500
    chat_max_length: int = 2000
    chat_history: int = 100
    chat_rate_per_minute: int = 60
    max_socket_message_bytes: int = 524_288
    socket_events_per_10s: int = 100
    socket_broadcasts_per_10s: int = 10
    session_recheck_seconds: int = 30


@dataclass(frozen=True)
class MediaSection:
    stun_servers: tuple[str, ...] = ()
    turn_servers: tuple[str, ...] = ()
    turn_secret: str = ""
    turn_credential_ttl: int = 86400
    ice_enforce_list: tuple[str, ...] = ()
    ice_ignore_list: tuple[str, ...] = ()
    video_codec: str = "VP8"
    max_video_bitrate: int = 1_500_000
    keyframe_request_interval_ms: int = 500


@dataclass(frozen=True)
class RecordingSection:
    min_free_bytes: int = 1 << 30
    stop_free_bytes: int = 256 << 20
    disk_check_interval: int = 5
    video_width: int = 1280
    video_height: int = 720
    video_fps: int = 15
    video_bitrate: int = 1_500_000
    audio_bitrate: int = 96_000
    consent: str = "notice"
    consent_text: str = "This class is being recorded. The recording is kept in Resources → Recorded Classes."
    robot_start_timeout: int = 30
    robot_stop_timeout: int = 15
    max_recording_hours: int = 8
    warm_robots: int = 1
    label_font: Path = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    recording_modes: tuple[str, ...] = ALL_RECORDING_MODES


@dataclass(frozen=True)
class Config:
    server: ServerSection = field(default_factory=ServerSection)
    auth: AuthSection = field(default_factory=AuthSection)
    database: DatabaseSection = field(default_factory=DatabaseSection)
    classroom: ClassroomSection = field(default_factory=ClassroomSection)
    media: MediaSection = field(default_factory=MediaSection)
    recording: RecordingSection = field(default_factory=RecordingSection)

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL; the embedded default is SQLite in the data dir."""
        if self.database.database_url:
            return self.database.database_url
        return f"sqlite+aiosqlite:///{self.server.data_dir / 'aula.db'}"

    @property
    def storage_dir(self) -> Path:
        return self.server.data_dir / "storage"

    @property
    def cookie_secure(self) -> bool:
        return self.server.public_url.startswith("https://")


def allowed_origins(config: Config) -> set[str]:
    """Origins besides the request's own that may write and open sockets: the public URL's and the list."""
    origins = set(config.server.allowed_origins)
    if config.server.public_url:
        parts = urlsplit(config.server.public_url)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


_SECTIONS: dict[str, type[Any]] = {
    "server": ServerSection,
    "auth": AuthSection,
    "database": DatabaseSection,
    "classroom": ClassroomSection,
    "media": MediaSection,
    "recording": RecordingSection,
}

_LIMITS: dict[str, tuple[int, int]] = {
    "port": (0, 65535),
    "max_body_bytes": (1024, 1 << 30),
    "session_max_age": (60, 90 * 86400),
    "login_max_failures_per_account": (1, 10_000),
    "login_max_failures_per_address": (1, 100_000),
    "login_failure_window": (1, 86400),
    "default_seat_limit": (1, 100_000),
    "max_seat_limit": (1, 100_000),
    "chat_max_length": (1, 100_000),
    "chat_history": (0, 10_000),
    "chat_rate_per_minute": (1, 10_000),
    "max_socket_message_bytes": (1024, 16 << 20),
    "socket_events_per_10s": (1, 100_000),
    "socket_broadcasts_per_10s": (1, 100_000),
    "session_recheck_seconds": (1, 3600),
    "turn_credential_ttl": (60, 30 * 86400),
    "max_video_bitrate": (50_000, 20_000_000),
    "keyframe_request_interval_ms": (50, 10_000),
    "min_free_bytes": (0, 1 << 50),
    "stop_free_bytes": (0, 1 << 50),
    "disk_check_interval": (1, 3600),
    "video_width": (160, 3840),
    "video_height": (120, 2160),
    "video_fps": (1, 60),
    "video_bitrate": (100_000, 20_000_000),
    "audio_bitrate": (32_000, 320_000),
    "robot_start_timeout": (1, 600),
    "robot_stop_timeout": (1, 600),
    "max_recording_hours": (1, 48),
    "warm_robots": (0, 1),
}


def option_names() -> dict[str, str]:
    """Every option name mapped to its section (names are unique across sections)."""
    return {f.name: section for section, cls in _SECTIONS.items() for f in fields(cls)}


def _coerce(name: str, kind: Any, value: Any) -> Any:
    text = isinstance(value, str)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if text and value.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            return value.lower() in {"1", "true", "yes", "on"}
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            result: int = value
        elif text and value.strip().lstrip("-").isdigit():
            result = int(value)
        else:
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
        low, high = _LIMITS.get(name, (-(1 << 62), 1 << 62))
        if not low <= result <= high:
            raise ConfigError(f"{name}: {result} is outside {low}..{high}")
        return result
    elif kind is str:
        if text:
            return value
    elif kind in (Path, Path | None):
        if text:
            return Path(value).expanduser() if value else None
    elif kind == tuple[str, ...]:
        if text:
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
    raise ConfigError(f"{name}: unexpected value {value!r}")


def load_config(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the configuration: defaults < TOML file < ``AULA_*`` environment < explicit overrides."""
    values: dict[str, dict[str, Any]] = {section: {} for section in _SECTIONS}
    owners = option_names()
    if path is not None:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc
        for section, table in document.items():
            if section not in _SECTIONS or not isinstance(table, dict):
                raise ConfigError(f"unknown config section [{section}]")
            for name, value in table.items():
                if owners.get(name) != section:
                    raise ConfigError(f"unknown option {name!r} in [{section}]")
                values[section][name] = value
    for name, section in owners.items():
        env_value = (environ or {}).get(f"AULA_{name.upper()}")
        if env_value is not None:
            values[section][name] = env_value
    for name, value in (overrides or {}).items():
        if value is None:
            continue
        if name not in owners:
            raise ConfigError(f"unknown option {name!r}")
        values[owners[name]][name] = value

    built: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        hints = get_type_hints(cls)
        kwargs = {name: _coerce(name, hints[name], value) for name, value in values[section].items()}
        built[section] = cls(**kwargs)
    config = Config(**built)
    if config.classroom.default_seat_limit > config.classroom.max_seat_limit:
        raise ConfigError("default_seat_limit is larger than max_seat_limit")
    if config.media.video_codec not in {"VP8", "H264"}:
        raise ConfigError("video_codec must be 'VP8' or 'H264'")
    if config.media.turn_servers and not config.media.turn_secret:
        raise ConfigError("turn_servers needs turn_secret (coturn use-auth-secret)")
    if config.recording.consent not in {"notice", "ask"}:
        raise ConfigError("consent must be 'notice' or 'ask'")
    unknown_modes = set(config.recording.recording_modes) - set(ALL_RECORDING_MODES)
    if unknown_modes:
        raise ConfigError(
            f"recording_modes: unknown {', '.join(sorted(unknown_modes))}"
            f" (known: {', '.join(ALL_RECORDING_MODES)})"
        )
    if config.recording.video_width % 2 or config.recording.video_height % 2:
        raise ConfigError("video_width and video_height must be even")
    for entry in config.auth.trusted_proxies:
        try:
            parse_network(entry)
        except ValueError as exc:
            raise ConfigError(f"trusted_proxies: {exc}") from None
    if config.server.log_format not in {"json", "text"}:
        raise ConfigError("log_format must be 'json' or 'text'")
    server = dataclasses.replace(config.server, data_dir=config.server.data_dir.expanduser().resolve())
    return dataclasses.replace(config, server=server)
