"""Which TSA to use: command line, environment, ``archiver.toml``, or the embedded one.

``--tsa-url``/``--tsa-cert`` > ``ARCHIVER_TSA_URL``/``ARCHIVER_TSA_CERT`` > ``[tsa] url``,
``cert`` of ``archiver.toml`` in the folder the command runs in > the local TSA.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .tsa import HttpTimestamper, LocalTimestamper, Timestamper, TsaConfigError

CONFIG_FILE = "archiver.toml"


@dataclass(frozen=True)
class TsaConfig:
    """Which TSA to use. ``url is None`` means the embedded local TSA."""

    url: str | None
    cert: Path | None
    source: str  # where the URL came from, for messages

    @property
    def is_local(self) -> bool:
        return self.url is None


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse ``archiver.toml``; a missing file is an empty config."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise TsaConfigError(f"cannot read {path}: {exc}") from exc


def resolve_tsa_config(
    url: str | None = None,
    cert: str | Path | None = None,
    *,
    env: Mapping[str, str],
    file_config: Mapping[str, Any] | None = None,
    file_dir: Path | None = None,
) -> TsaConfig:
    """Pick the TSA: explicit arguments > ``ARCHIVER_TSA_URL``/``ARCHIVER_TSA_CERT`` >
    ``[tsa] url``/``cert`` of archiver.toml > the local TSA. Each setting is resolved
    on its own; a relative ``cert`` in the file is relative to the file's folder."""
    section = (file_config or {}).get("tsa", {})
    if not isinstance(section, Mapping):
        raise TsaConfigError("[tsa] in archiver.toml must be a table with url and cert")
    unknown = sorted(set(section) - {"url", "cert"})
    if unknown:  # a misspelt key would otherwise fall back to the local TSA unnoticed
        raise TsaConfigError(f"archiver.toml: khoá không rõ trong [tsa] / unknown key(s) in [tsa]: "
                             f"{', '.join(unknown)} (url, cert)")
    file_url, file_cert = section.get("url"), section.get("cert")
    if file_cert is not None and file_dir is not None:
        file_cert = file_dir / Path(file_cert)

    for value, source in (
        (url, "command line"),
        (env.get("ARCHIVER_TSA_URL"), "environment (ARCHIVER_TSA_URL)"),
        (file_url, "archiver.toml"),
    ):
        if value:
            chosen_url, url_source = str(value), source
            break
    else:
        if cert:  # a certificate for a TSA that was not named: say so rather than go local
            raise TsaConfigError("--tsa-cert was given without --tsa-url (or ARCHIVER_TSA_URL, or [tsa] url in "
                                 "archiver.toml): name the TSA, or leave both out for the local TSA")
        return TsaConfig(url=None, cert=None, source="local TSA (no TSA configured)")
    chosen_cert = cert or env.get("ARCHIVER_TSA_CERT") or file_cert
    return TsaConfig(
        url=chosen_url, cert=Path(chosen_cert) if chosen_cert else None, source=url_source
    )


def make_timestamper(
    config: TsaConfig, data_dir: Path | None = None, **http_options: Any
) -> Timestamper:
    """The timestamper a :class:`TsaConfig` asks for. A certificate or data folder that
    cannot be read is a :class:`TsaConfigError`, raised before any work is done."""
    try:
        if config.url is None:
            return LocalTimestamper(data_dir)
        return HttpTimestamper(config.url, config.cert, **http_options)
    except TsaConfigError:
        raise
    except (OSError, ValueError) as exc:
        raise TsaConfigError(f"không dùng được cấu hình TSA / the TSA settings cannot be used: {exc}") from None


def configured_tsa(url: str | None = None, cert: str | Path | None = None) -> TsaConfig:
    """The TSA the user configured, from every source in order (``archiver.toml`` is read
    from the folder the command runs in: a cron job should ``cd`` there first)."""
    file = Path(CONFIG_FILE)
    return resolve_tsa_config(url, str(cert) if cert else None, env=os.environ,
                              file_config=read_config_file(file) if file.is_file() else None,
                              file_dir=Path.cwd())
