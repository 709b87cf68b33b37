"""Composes the verifier from a database handle and its settings into a ``libs.service`` Service:
the domain objects, the gRPC server around them and the periodic cache purge."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.verifier.v1 import verifier_service_pb2_grpc as pb_grpc
from libs.caller_auth import CallerAuth, ServerTls, method_scopes
from libs.grpc_clients import GrpcClients
from libs.grpc_server import GrpcServer
from libs.mongo import Document, ping
from libs.periodic import Every
from libs.privacy_service import PRIVACY_SCOPES, privacy_service
from libs.service import Service
from services.verifier.domain import RetryHints, VerificationPolicy, address_lists
from services.verifier.limits import HostLimiter
from services.verifier.privacy import declared
from services.verifier.prober import ProbeSettings, SmtpProber
from services.verifier.repository import VerdictCache
from services.verifier.resolver import MailRouteResolver
from services.verifier.servicer import VerifierServicer
from services.verifier.settings import VerifierSettings
from services.verifier.verification import EmailVerifier

__all__ = ["SCOPES", "SERVICE_NAME", "build_verifier", "create_server"]

SERVICE_NAME = "leadmesh.verifier.v1.VerifierService"
# The scope each RPC needs (README "Calling the gRPC services"); an RPC missing here is denied.
SCOPES = (
    method_scopes(
        SERVICE_NAME,
        {"Verify": "verify", "VerifyBatch": "verify"},
    )
    | PRIVACY_SCOPES
)


async def build_verifier(db: AsyncDatabase[Document], settings: VerifierSettings) -> EmailVerifier:
    """The verifier with its cache (indexes ensured), resolver and SMTP prober."""
    cache = VerdictCache(
        db,
        address_ttl=settings.verifier_address_cache_ttl,
        domain_ttl=settings.verifier_domain_cache_ttl,
        negative_ttl=settings.verifier_negative_cache_ttl,
    )
    await cache.ensure_indexes()
    resolver = MailRouteResolver(
        settings.nameservers,
        settings.verifier_dns_timeout,
        allow_private=settings.verifier_allow_private_mx,
    )
    prober = SmtpProber(
        ProbeSettings(
            port=settings.verifier_smtp_port,
            helo_name=settings.verifier_helo_name,
            mail_from=settings.verifier_mail_from,
            connect_timeout=settings.verifier_connect_timeout,
            command_timeout=settings.verifier_command_timeout,
        ),
        HostLimiter(settings.verifier_mx_concurrency, settings.verifier_mx_rate),
        remember_slow=settings.verifier_retry_after,
    )
    policy = VerificationPolicy(
        smtp_enabled=settings.verifier_smtp_enabled,
        recipients_per_session=settings.verifier_recipients_per_session,
        batch_concurrency=settings.verifier_batch_concurrency,
        greylist_backoff=settings.verifier_greylist_backoff,
        greylist_retries=settings.verifier_greylist_retries,
        hints=RetryHints(
            greylisted=settings.verifier_greylist_backoff, temporary=settings.verifier_retry_after
        ),
        verify_timeout=settings.verifier_verify_timeout,
        domain_budget=settings.verifier_domain_budget,
    )
    lists = address_lists().with_disposable(settings.verifier_disposable_domains)
    return EmailVerifier(policy, resolver, prober, cache, lists)


async def create_server(
    db: AsyncDatabase[Document],
    settings: VerifierSettings,
    address: str,
    verifier: EmailVerifier | None = None,
) -> Service:
    """The (unstarted) service around ``verifier`` (built from ``settings`` when not given); it
    lets the verifier's pending cache writes finish once it has stopped. Readiness follows the
    store only: DNS and mail servers are other people's, and their trouble is reported in
    verdicts."""
    if verifier is None:
        verifier = await build_verifier(db, settings)
    servicer = VerifierServicer(verifier, settings.verifier_max_batch_items)
    privacy = privacy_service(db, declared(verifier.cache))
    server = GrpcServer(
        name="verifier",
        address=address,
        services={
            SERVICE_NAME: lambda server: pb_grpc.add_VerifierServiceServicer_to_server(servicer, server),
            privacy[0]: privacy[1],
        },
        readiness=[lambda: ping(db)],
        grace=settings.shutdown_grace,
        max_concurrent_rpcs=settings.grpc_max_concurrent_rpcs,
        auth=CallerAuth.of(settings, SCOPES, GrpcClients(db).revoked_ids),
        tls=ServerTls.of(settings),
    )
    purge = Every(settings.verifier_purge_interval, verifier.cache.purge_expired)
    return Service(server, parts=[purge], closers=[verifier.close])
