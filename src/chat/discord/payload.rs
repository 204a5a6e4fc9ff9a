//! Replies and interaction data in Discord's JSON shapes, shared by the gateway and HTTP adapters.
