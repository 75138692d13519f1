//! The body of a refused request (4xx, 5xx) from the collector or the events-api.

use serde::{Deserialize, Serialize};

/// `{"error": "..."}`: the reason, written for the person who sent the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

impl ErrorBody {
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_the_shape_clients_read() {
        let body = ErrorBody::new("limit=\"x\": expected a whole number");
        assert_eq!(crate::round_trip(&body), body);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"error": "limit=\"x\": expected a whole number"})
        );
    }
}
