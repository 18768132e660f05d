"""Dependencies of the routes: the application state, the caller, and the rate limits.

Every ``/v1`` route counts against the client IP's rate limit: the routes that
need a caller take :data:`CallerDep` (which counts the IP, then accepts an
``X-API-Key`` or an ``Authorization: Bearer`` token and counts the caller), the
open ones depend on :func:`limit_client`.  A ``401`` says what the API accepts:
a bearer token only when ``SABISCORE_API_JWT_SECRET`` is set (message,
``WWW-Authenticate`` and the OpenAPI security schemes alike).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from sabiscore_ml.warehouse.api_keys import FREE
from serving.rate_limits import CALLER, CLIENT, Refusal
from serving.repository import StoreUnavailable
from serving.security import AuthError, Principal, accepted_credentials, challenges
from serving.state import ServingState

api_key_scheme = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key (`sabiscore keys create`), sent as the X-API-Key header.",
)
BEARER = "Bearer"  # the OpenAPI name of the bearer scheme
bearer_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    scheme_name=BEARER,
    description="A JWT signed with the API's secret: `sub`, `exp` and optionally `tier` "
    "(accepted only when the API has a secret, SABISCORE_API_JWT_SECRET).",
)


async def get_state(request: Request) -> ServingState:
    """The running application's state."""
    state: ServingState | None = request.app.state.serving
    if state is None:
        raise RuntimeError("the application has not started (lifespan not run)")
    return state


StateDep = Annotated[ServingState, Depends(get_state)]


def client_address(
    forwarded_for: str | None, client: tuple[str, int] | None, trust_proxy: bool
) -> str:
    """The client's address: the last hop of ``X-Forwarded-For`` when the proxy is trusted."""
    if trust_proxy and forwarded_for:
        return forwarded_for.rsplit(",", 1)[-1].strip()
    return client[0] if client else "unknown"


def client_ip(request: Request, trust_proxy: bool) -> str:
    """The request's client address (see :func:`client_address`)."""
    client = (request.client.host, request.client.port) if request.client else None
    return client_address(request.headers.get("x-forwarded-for"), client, trust_proxy)


def too_many_requests(refusal: Refusal) -> HTTPException:
    """A ``429`` saying which limit and when to come back."""
    if refusal.limit == "insights":
        detail = (
            f"the free tier's insights are used up ({refusal.description}); "
            "a premium or pro key has no daily limit"
        )
    else:
        detail = f"rate limit exceeded ({refusal.description} per {refusal.limit})"
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail,
        headers={"Retry-After": str(refusal.retry_after)},
    )


async def limit_client(request: Request, state: StateDep) -> None:
    """Count the request against its client IP's rate limit."""
    refusal = await state.limits.check(CLIENT, client_ip(request, state.settings.trust_proxy))
    if refusal is not None:
        raise too_many_requests(refusal)


def anonymous_caller(request: Request, state: ServingState) -> Principal:
    """A caller without credentials: the free tier by IP, or a 401 when a key is required."""
    if state.settings.require_key:
        raise AuthError(f"{accepted_credentials(state.settings)} is needed")
    return Principal(f"ip:{client_ip(request, state.settings.trust_proxy)}", FREE)


async def get_caller(
    request: Request,
    state: StateDep,
    api_key: Annotated[str | None, Security(api_key_scheme)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> Principal:
    """Who calls (by key, else token), counted against its own rate limit; ``401`` if nobody.

    The client IP's rate limit is counted first.
    """
    await limit_client(request, state)
    try:
        caller = await state.authenticator.identify(
            api_key, bearer.credentials if bearer is not None else None
        )
        if caller is None:
            caller = anonymous_caller(request, state)
    except AuthError as error:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            str(error),
            headers={"WWW-Authenticate": challenges(state.settings, invalid_token=error.token)},
        ) from None
    except StoreUnavailable:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the API key cannot be checked right now; try again shortly",
            headers={"Retry-After": "5"},
        ) from None
    refusal = await state.limits.check(CALLER, caller.subject)
    if refusal is not None:
        raise too_many_requests(refusal)
    return caller


CallerDep = Annotated[Principal, Depends(get_caller)]
