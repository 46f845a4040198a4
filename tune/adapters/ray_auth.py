"""Ray's token authentication: whether it is on, whether this machine has a token, and whether a
cluster's GCS accepts the credentials this process would send (Ray has no public call for any).

``gcs_refuses_credentials`` asks the GCS one cheap question (its cluster id, the first thing
``ray.init`` asks) over gRPC with the metadata Ray's own gRPC clients attach, so a refused token is
known in milliseconds, where ``ray.init`` retries for about 20 s and logs a warning each second.
"""

from __future__ import annotations

import os

from tune.adapters import probe

# The GCS service and method ray.init calls first (ray/core/generated/gcs_service.proto).
GCS_SERVICE, GCS_METHOD = "ray.rpc.NodeInfoGcsService", "GetClusterId"
PROBE_SECONDS = 5.0


def token_auth_enabled() -> bool:
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        return True
    try:
        from ray._private.authentication.authentication_utils import is_token_auth_enabled

        return bool(is_token_auth_enabled())
    except Exception:  # an older Ray without token authentication, or one that moved it
        return False


def has_token() -> bool:
    """Whether this machine has a token for Ray (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token)."""
    from ray._raylet import AuthenticationTokenLoader

    return bool(AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True))


def _credentials() -> tuple[tuple[str, str], ...]:
    """The gRPC metadata Ray's clients send: the token header when token authentication is on, else none
    (also when it is on and this machine has no token, which Ray reports by raising)."""
    from ray._private.authentication.grpc_authentication_client_interceptor import _get_authentication_metadata_tuple
    from ray.exceptions import AuthenticationError

    try:
        return tuple(_get_authentication_metadata_tuple())
    except AuthenticationError:
        return ()


def gcs_refuses_credentials(address: str, timeout: float = PROBE_SECONDS) -> bool | None:
    """Whether the GCS at ``HOST:PORT`` refuses this process's credentials: True (it answers
    UNAUTHENTICATED), False (it answers), None (no answer, or not a GCS: ``ray.init`` will say)."""
    import grpc

    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(f"/{GCS_SERVICE}/{GCS_METHOD}", request_serializer=None,
                                   response_deserializer=None)
        try:
            call(b"", timeout=timeout, metadata=_credentials())
        except grpc.RpcError as error:
            return True if error.code() == grpc.StatusCode.UNAUTHENTICATED else None
    return False


def missing() -> list[str]:
    def enabled():
        from ray._private.authentication.authentication_utils import is_token_auth_enabled

        return isinstance(is_token_auth_enabled(), bool)

    def gcs_method():
        from ray.core.generated import gcs_service_pb2

        service = gcs_service_pb2.DESCRIPTOR.services_by_name[GCS_SERVICE.rsplit(".", 1)[1]]
        return service.full_name == GCS_SERVICE and GCS_METHOD in service.methods_by_name

    return probe("ray", {
        "_private.authentication.authentication_utils.is_token_auth_enabled": enabled,
        "_raylet.AuthenticationTokenLoader.has_token": lambda: isinstance(has_token(), bool),
        "_private.authentication.grpc_authentication_client_interceptor._get_authentication_metadata_tuple":
            lambda: isinstance(_credentials(), tuple),
        f"core.generated.gcs_service_pb2 ({GCS_SERVICE}.{GCS_METHOD})": gcs_method,
    })
