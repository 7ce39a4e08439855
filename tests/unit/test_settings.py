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


def test_the_development_token_is_refused_outside_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERACTIONS_ENVIRONMENT", "production")
    with pytest.raises(SettingsError, match="api_token still has the local development default"):
        load_settings(INTERACTIONS)


def test_a_real_token_is_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERACTIONS_ENVIRONMENT", "production")
    monkeypatch.setenv("INTERACTIONS_API_TOKEN", "s3cr3t-from-the-vault")
    monkeypatch.setenv("INTERACTIONS_CONTACTS_API_TOKEN", "contacts-s3cr3t")
    monkeypatch.setenv("INTERACTIONS_DATA_KEY_TOKEN", "keys-s3cr3t")
    assert load_settings(INTERACTIONS).api_token.get_secret_value() == "s3cr3t-from-the-vault"


@pytest.mark.parametrize(
    "missing", ["suppression_salt", "consent_api_token", "interactions_api_token"]
)
def test_every_secret_of_contacts_must_be_set_outside_local(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    from contacts.bootstrap import DEFINITION as CONTACTS

    monkeypatch.setenv("CONTACTS_ENVIRONMENT", "production")
    secrets = ["api_token", "suppression_salt", "consent_api_token", "interactions_api_token"]
    for name in [*secrets, "campaigns_api_token", "data_key_token"]:
        if name != missing:
            monkeypatch.setenv(f"CONTACTS_{name.upper()}", f"real-{name}")
    with pytest.raises(SettingsError, match=f"{missing} still has the local development default"):
        load_settings(CONTACTS)
    monkeypatch.setenv(f"CONTACTS_{missing.upper()}", "real")
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

    monkeypatch.setenv("CONSENT_ENVIRONMENT", "production")
    for name in ("api_token", "contacts_api_token", "data_key_token"):
        monkeypatch.setenv(f"CONSENT_{name.upper()}", f"real-{name}")
    with pytest.raises(SettingsError, match="confirmation_secret still has the local"):
        load_settings(CONSENT)
    monkeypatch.setenv("CONSENT_CONFIRMATION_SECRET", "real")
    assert load_settings(CONSENT).environment == "production"


def test_make_run_puts_each_workers_faust_data_folder_under_its_state_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from devstack.stack import definitions, service_env
    from dialogkit.worker_setup import faust_settings

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
