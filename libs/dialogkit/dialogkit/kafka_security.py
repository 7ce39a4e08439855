"""How every Kafka client of a service connects: protocol, SASL credentials and the CA to trust.

In production each service authenticates as its own Kafka user (SCRAM-SHA-512 over TLS) whose
ACLs allow only what the topic catalog says it writes and reads; locally nothing is needed.
"""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from dialogkit.config import ServiceSettings


def kafka_client_options(settings: ServiceSettings) -> dict[str, Any]:
    """aiokafka connection options (security_protocol, sasl_*, ssl_context) from settings."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.endswith("SSL"):
        options["ssl_context"] = create_ssl_context(cafile=settings.kafka_ca_file)
    if protocol.startswith("SASL"):
        assert settings.kafka_password is not None  # the settings refuse SASL without one
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_username,
            "sasl_plain_password": settings.kafka_password.get_secret_value(),
        }
    return options


def faust_credentials(settings: ServiceSettings) -> Any:
    """The same connection for faust's consumer and producer (None: plaintext)."""
    from faust import SASLCredentials, SSLCredentials

    options = kafka_client_options(settings)
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return SSLCredentials(options["ssl_context"])
    return SASLCredentials(
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        ssl_context=options.get("ssl_context"),
        mechanism=options["sasl_mechanism"],
    )
