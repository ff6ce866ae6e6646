"""Which @connections poster a function builds: the lean one unless POSTER_CLIENT says botocore."""

from __future__ import annotations

import pytest

from roomcast import bootstrap
from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.adapters.lean_poster import LeanPoster
from roomcast.settings import SettingsError, StreamSettings

ENVIRONMENT = {"TABLE_NAME": "chat", "WEBSOCKET_CALLBACK_URL": "https://abc.execute-api.eu-west-1.amazonaws.com/v1"}


@pytest.mark.parametrize(("client", "kind"), [(None, LeanPoster), ("lean", LeanPoster), ("botocore", ConnectionsApi)])
def test_the_stream_function_posts_with_the_client_its_settings_name(client: str | None, kind: type) -> None:
    settings = StreamSettings.from_env(ENVIRONMENT | ({"POSTER_CLIENT": client} if client else {}))

    poster = bootstrap.poster(
        settings.websocket_callback_url, settings.post_max_attempts, settings.fanout_max_workers, settings.poster_client
    )

    assert isinstance(poster, kind)
    assert poster.pool_size == settings.fanout_max_workers == 16


def test_an_unknown_poster_client_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match="POSTER_CLIENT") as refused:
        StreamSettings.from_env(ENVIRONMENT | {"POSTER_CLIENT": "requests"})

    assert "\n" not in str(refused.value)
