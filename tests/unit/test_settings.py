from pathlib import Path

import pytest

from dialogkit.service import SettingsError, load_settings
from interactions.bootstrap import DEFINITION as INTERACTIONS
from interactions.config import Settings


def test_each_service_reads_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERACTIONS_HTTP_PORT", "9100")
    monkeypatch.setenv("CONSENT_HTTP_PORT", "9200")
    assert Settings().http_port == 9100


def test_default_ports_follow_the_platform_layout() -> None:
    from campaigns.config import Settings as Campaigns
    from consent.config import Settings as Consent
    from contacts.config import Settings as Contacts

    ports = [s().http_port for s in (Consent, Contacts, Settings, Campaigns)]
    assert ports == [8001, 8002, 8003, 8004]


def in_production(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    """A production environment with a real issuer and client credentials."""
    monkeypatch.setenv(f"{prefix}_ENVIRONMENT", "production")
    monkeypatch.delenv(f"{prefix}_AUTH_LOCAL_KEY_FILE", raising=False)
    monkeypatch.setenv(f"{prefix}_AUTH_ISSUER", "https://login.example.com/")
    monkeypatch.setenv(f"{prefix}_AUTH_JWKS_URL", "https://login.example.com/jwks.json")
    monkeypatch.setenv(f"{prefix}_AUTH_TOKEN_URL", "https://login.example.com/token")
    monkeypatch.setenv(f"{prefix}_AUTH_CLIENT_ID", prefix.lower())
    monkeypatch.setenv(f"{prefix}_AUTH_CLIENT_SECRET", "s3cr3t-from-the-vault")
    monkeypatch.setenv(f"{prefix}_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv(f"{prefix}_KAFKA_USERNAME", prefix.lower())
    monkeypatch.setenv(f"{prefix}_KAFKA_PASSWORD", "scram-s3cr3t")


def test_the_local_signing_key_is_refused_outside_local(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    in_production(monkeypatch, "INTERACTIONS")
    monkeypatch.setenv("INTERACTIONS_AUTH_LOCAL_KEY_FILE", str(tmp_path / "key.pem"))
    with pytest.raises(SettingsError, match="local development signing key and issuer"):
        load_settings(INTERACTIONS)


def test_the_local_issuer_is_refused_outside_local(monkeypatch: pytest.MonkeyPatch) -> None:
    in_production(monkeypatch, "INTERACTIONS")
    monkeypatch.delenv("INTERACTIONS_AUTH_ISSUER")
    with pytest.raises(SettingsError, match="local development signing key and issuer"):
        load_settings(INTERACTIONS)


def test_production_needs_the_issuers_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    in_production(monkeypatch, "INTERACTIONS")
    monkeypatch.delenv("INTERACTIONS_AUTH_JWKS_URL")
    with pytest.raises(SettingsError, match="set auth_jwks_url or auth_public_key"):
        load_settings(INTERACTIONS)


def test_a_service_calling_others_needs_client_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    in_production(monkeypatch, "INTERACTIONS")
    monkeypatch.delenv("INTERACTIONS_AUTH_CLIENT_SECRET")
    with pytest.raises(SettingsError, match="auth_client_secret"):
        load_settings(INTERACTIONS)


def test_a_real_issuer_is_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    in_production(monkeypatch, "INTERACTIONS")
    settings = load_settings(INTERACTIONS)
    assert str(settings.auth_jwks_url) == "https://login.example.com/jwks.json"
    assert settings.token_verifier().issuer == "https://login.example.com/"


def test_the_suppression_salt_must_be_set_outside_local(monkeypatch: pytest.MonkeyPatch) -> None:
    from contacts.bootstrap import DEFINITION as CONTACTS

    in_production(monkeypatch, "CONTACTS")
    with pytest.raises(SettingsError, match="suppression_salt still has the local development"):
        load_settings(CONTACTS)
    monkeypatch.setenv("CONTACTS_SUPPRESSION_SALT", "real")
    assert load_settings(CONTACTS).environment == "production"


def test_a_bad_setting_names_the_variable_and_the_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERACTIONS_HTTP_PORT", "70000")
    monkeypatch.setenv("INTERACTIONS_BATCH_MAX", "lots")
    with pytest.raises(SettingsError) as caught:
        load_settings(INTERACTIONS)
    message = str(caught.value)
    assert "INTERACTIONS_HTTP_PORT: Input should be less than or equal to 65535" in message
    assert "INTERACTIONS_BATCH_MAX: Input should be a valid integer" in message


def test_compliance_counts_consent_expiry_with_the_consent_services_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSENT_EXPIRY_DAYS", "1000")
    assert load_settings(INTERACTIONS).consent_expiry_days == 1000  # type: ignore[attr-defined]
    monkeypatch.setenv("INTERACTIONS_CONSENT_EXPIRY_DAYS", "900")
    assert load_settings(INTERACTIONS).consent_expiry_days == 900  # type: ignore[attr-defined]


def test_the_double_opt_in_secret_must_be_set_outside_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from consent.bootstrap import DEFINITION as CONSENT

    in_production(monkeypatch, "CONSENT")
    with pytest.raises(SettingsError, match="confirmation_secret still has the local"):
        load_settings(CONSENT)
    monkeypatch.setenv("CONSENT_CONFIRMATION_SECRET", "real")
    assert load_settings(CONSENT).environment == "production"


def test_make_run_puts_each_workers_faust_data_folder_under_its_state_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from devstack.stack import definitions, service_env
    from dialogkit.worker import faust_settings

    folders = set()
    for state in (tmp_path / "one", tmp_path / "two"):  # two platforms on one machine
        for definition in definitions():
            variable = f"{definition.settings.model_config.get('env_prefix', '')}WORKER_DATA_DIR"
            monkeypatch.delenv(variable, raising=False)
            env = service_env(definition, "127.0.0.1:9092", "postgresql://db/x", state)
            monkeypatch.setenv(variable, env[variable])  # what the worker process reads
            datadir = Path(faust_settings(definition.name, definition.settings())["datadir"])
            assert datadir.is_relative_to(state.absolute())
            folders.add(datadir)
    assert len(folders) == 8  # no two workers share one
