from dialogkit.db import migration_files, with_requirements


def test_a_package_is_migrated_after_the_packages_it_requires() -> None:
    assert with_requirements(["consent"]) == ["dialogkit", "consentledger", "consent"]
    assert with_requirements(["interactions", "consent"])[-1] == "consent"


def test_migration_names_carry_their_package() -> None:
    assert [name for name, _ in migration_files("consentledger")] == [
        "consentledger/001_ledger.sql",
        "consentledger/002_suppressed_channels.sql",
        "consentledger/003_customer_kinds.sql",
        "consentledger/004_erased_at.sql",
        "consentledger/005_snapshots.sql",
    ]
