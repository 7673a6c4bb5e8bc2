//! Slack delivery: Block Kit payloads rendered from templates ([`render`]), escaped
//! ([`escape`]) and cut to Slack's limits ([`limits`]); sent over an incoming webhook or
//! the Web API with a bot token ([`transport`]), routed per tenant ([`routes`]), from the
//! durable outbox by the [`deliver::Deliverer`].
pub mod announce;
pub mod deliver;
pub mod escape;
pub mod limits;
pub mod render;
pub mod routes;
pub mod transport;

pub use announce::Announcer;
pub use deliver::{DeliverError, Deliverer, Outbox};
pub use render::Renderer;
pub use routes::{RawSlack, Routes};
