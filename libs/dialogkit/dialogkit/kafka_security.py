"""How a service's Kafka clients authenticate and encrypt: one place for every client.

The embedded broker of `make run` and the tests is plaintext on loopback. Elsewhere each
service connects with its own SASL/SCRAM user over TLS (`<SERVICE>_KAFKA_SECURITY_PROTOCOL=
SASL_SSL`, `<SERVICE>_KAFKA_SASL_USERNAME`, `<SERVICE>_KAFKA_SASL_PASSWORD`, the cluster's CA in
`<SERVICE>_KAFKA_SSL_CA_FILE`); mutual TLS instead of SCRAM with `SSL` and a client certificate.
Producers, consumers, the admin client and the faust worker all take their options from here.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import faust
from aiokafka.helpers import create_ssl_context

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]


@dataclass(frozen=True)
class KafkaSecurity:
    """A service's Kafka connection security; plaintext unless configured."""

    protocol: Protocol = "PLAINTEXT"
    mechanism: Mechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS with the cluster's CA (the system's CAs if none is given), a client certificate
        where one is given; hostnames are verified."""
        if not self.uses_tls:
            return None
        context: ssl.SSLContext = create_ssl_context(
            cafile=str(self.ca_file) if self.ca_file else None,
            certfile=str(self.cert_file) if self.cert_file else None,
            keyfile=str(self.key_file) if self.key_file else None,
        )
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            options |= {
                "sasl_mechanism": self.mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        return options

    def faust_options(self) -> dict[str, Any]:
        """faust settings: `broker_credentials` its transport turns into the same options."""
        if self.uses_sasl:
            credentials: Any = faust.SASLCredentials(
                username=self.username,
                password=self.password,
                mechanism=self.mechanism,
                ssl_context=self.ssl_context(),
            )
            return {"broker_credentials": credentials}
        if self.uses_tls:
            return {"broker_credentials": faust.SSLCredentials(self.ssl_context())}
        return {}
