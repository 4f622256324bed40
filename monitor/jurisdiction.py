"""Which jurisdiction's rules apply to a post."""

from __future__ import annotations

from collections.abc import Mapping

from policies.post import Post


def resolve_jurisdiction(post: Post, channel_defaults: Mapping[str, str], default: str) -> str:
    """The post's own jurisdiction, else its author's country, else its channel's, else the default.

    The order goes from the most specific statement to the least: a producer that knows a post was
    published under French law says so, an author's country is the usual proxy, and a channel
    (e.g. a UK-only Teams tenant) is the fallback for anonymous external posts.
    """
    if post.jurisdiction:
        return post.jurisdiction
    if post.author.country:
        return post.author.country
    channel_default = channel_defaults.get(post.channel)
    if channel_default:
        return channel_default.upper()
    return default.upper()
