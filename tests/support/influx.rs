//! InfluxDB 1.x from tests: InfluxQL queries and fresh databases.
/// Runs an InfluxQL query against an InfluxDB 1.x and returns the JSON answer.
pub async fn influxql(url: &str, db: &str, q: &str) -> Result<serde_json::Value, InfluxError> {
    let r = crate::http()
        .get(format!("{url}/query"))
        .query(&[("db", db), ("q", q), ("epoch", "ns")])
        .send()
        .await?;
    let status = r.status();
    let v: serde_json::Value = r.json().await?;
    if !status.is_success() {
        return Err(InfluxError::Status(status, v.to_string()));
    }
    Ok(v)
}

/// Creates a database (named uniquely by the caller) and returns its name.
pub async fn create_database(url: &str, db: &str) -> Result<String, InfluxError> {
    let r = crate::http()
        .post(format!("{url}/query"))
        .form(&[("q", format!("CREATE DATABASE \"{db}\""))])
        .send()
        .await?;
    let status = r.status();
    if !status.is_success() {
        return Err(InfluxError::Status(
            status,
            r.text().await.unwrap_or_default(),
        ));
    }
    Ok(db.to_string())
}

/// The rows (`values`) of every series of an InfluxQL answer, in order.
pub fn rows(v: &serde_json::Value) -> Vec<Vec<serde_json::Value>> {
    v["results"][0]["series"]
        .as_array()
        .map(|series| {
            series
                .iter()
                .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
                .map(|r| r.as_array().cloned().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
pub enum InfluxError {
    #[error("influxdb request")]
    Http(#[from] reqwest::Error),
    #[error("influxdb answered {0}: {1}")]
    Status(reqwest::StatusCode, String),
}
