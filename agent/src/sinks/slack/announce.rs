//! Messages about alerting itself (`AlertingDegraded`, a blocked destination), posted
//! straight to the default destination as plain text: they must get out when the state,
//! the outbox or another destination is what is broken, so they never go through them.
use super::deliver::{DeliverError, http_client, plain_payload};
use super::routes::Routes;
use super::transport::{SendError, Transport};

#[derive(Clone)]
pub struct Announcer {
    http: reqwest::Client,
    transport: Transport,
    /// Shown in every message (the cluster's or the collector's name).
    name: String,
}

impl Announcer {
    pub fn new(routes: &Routes, name: &str) -> Result<Announcer, DeliverError> {
        Ok(Announcer {
            http: http_client(routes)?,
            transport: routes.default.transport.clone(),
            name: name.to_string(),
        })
    }

    /// The default destination's channel key (never a secret).
    pub fn destination(&self) -> String {
        self.transport.channel_key()
    }

    /// Posts `headline: text` (both escaped as any value), naming the cluster.
    pub async fn post(&self, headline: &str, text: &str) -> Result<(), SendError> {
        let transport = self
            .transport
            .reloaded()
            .unwrap_or_else(|| self.transport.clone());
        let line = format!("{headline} ({}): {text}", self.name);
        transport
            .post(&self.http, &plain_payload(&line), None)
            .await
            .map(|_| ())
    }
}
