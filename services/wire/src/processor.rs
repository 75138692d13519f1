//! The processor's `GET /status`: which partitions a replica holds, for `ptrack status`.

use serde::{Deserialize, Serialize};

/// One processor replica's place in the consumer group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessorStatus {
    pub group_id: String,
    pub topic: String,
    /// The partitions assigned to this replica right now.
    pub partitions: Vec<i32>,
    /// Messages not yet committed on those partitions.
    pub lag: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_a_partial_body() {
        let status = ProcessorStatus {
            group_id: "ptrack-processor".into(),
            topic: "user-tracking-events".into(),
            partitions: vec![0, 2],
            lag: 17,
        };
        assert_eq!(crate::round_trip(&status), status);
        let partial: ProcessorStatus =
            serde_json::from_str(r#"{"partitions": [1], "lag": 0}"#).unwrap();
        assert_eq!(partial.partitions, [1]);
    }
}
