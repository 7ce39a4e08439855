from pathlib import Path

import pytest

from campaigns.bootstrap import DEFINITION as CAMPAIGNS
from consent.bootstrap import DEFINITION as CONSENT
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
    monkeypatch.delenv(f"{prefix}_LEDGER_LOCAL_KEY_FILE", raising=False)
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


def test_the_local_ledger_key_is_refused_outside_local(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    in_production(monkeypatch, "CONSENT")
    monkeypatch.setenv("CONSENT_LEDGER_LOCAL_KEY_FILE", str(tmp_path / "ledger.pem"))
    with pytest.raises(SettingsError, match="local development ledger key"):
        load_settings(CONSENT)


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


def test_dispatch_counts_consent_expiry_with_the_consent_services_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings(CAMPAIGNS).consent_expiry_days == 730  # type: ignore[attr-defined]
    monkeypatch.setenv("CONSENT_EXPIRY_DAYS", "1000")
    assert load_settings(CAMPAIGNS).consent_expiry_days == 1000  # type: ignore[attr-defined]
    monkeypatch.setenv("CAMPAIGNS_CONSENT_EXPIRY_DAYS", "900")
    assert load_settings(CAMPAIGNS).consent_expiry_days == 900  # type: ignore[attr-defined]


def test_the_double_opt_in_secret_must_be_set_outside_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
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


def test_a_heartbeat_longer_than_a_third_of_the_session_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTERACTIONS_CONSUMER_SESSION_TIMEOUT_S", "3")
    monkeypatch.setenv("INTERACTIONS_CONSUMER_HEARTBEAT_INTERVAL_S", "1.5")
    with pytest.raises(SettingsError, match="at most a third of consumer_session_timeout_s=3"):
        load_settings(INTERACTIONS)
    monkeypatch.setenv("INTERACTIONS_CONSUMER_SESSION_TIMEOUT_S", "0.5")
    with pytest.raises(SettingsError, match="CONSUMER_SESSION_TIMEOUT_S: Input should be greater"):
        load_settings(INTERACTIONS)


def test_the_worker_joins_its_group_with_the_session_and_heartbeat_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dialogkit.worker import faust_settings

    monkeypatch.setenv("INTERACTIONS_CONSUMER_SESSION_TIMEOUT_S", "4")
    monkeypatch.setenv("INTERACTIONS_CONSUMER_HEARTBEAT_INTERVAL_S", "0.25")
    options = faust_settings("interactions", load_settings(INTERACTIONS))
    assert (options["broker_session_timeout"], options["broker_heartbeat_interval"]) == (4, 0.25)
    monkeypatch.delenv("INTERACTIONS_CONSUMER_SESSION_TIMEOUT_S")
    monkeypatch.delenv(
        "INTERACTIONS_CONSUMER_HEARTBEAT_INTERVAL_S"
    )  # (the tests' broker sets them)
    defaults = faust_settings("interactions", load_settings(INTERACTIONS))
    assert defaults["broker_session_timeout"] == 10  # what Kafka's own minimum (6 s) allows


def test_make_run_gives_workers_the_embedded_brokers_group_settings_only_on_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from devstack.stack import definitions, service_env

    definition = definitions()[0]
    prefix = definition.settings.model_config.get("env_prefix", "")
    monkeypatch.delenv(f"{prefix}CONSUMER_SESSION_TIMEOUT_S", raising=False)
    on_it = service_env(
        definition, "127.0.0.1:9092", "postgresql://db/x", tmp_path, embedded_broker=True
    )
    elsewhere = service_env(definition, "kafka:9093", "postgresql://db/x", tmp_path)
    assert on_it[f"{prefix}CONSUMER_SESSION_TIMEOUT_S"] == "2.0"
    assert f"{prefix}CONSUMER_SESSION_TIMEOUT_S" not in elsewhere
