//! Scenarios as EC2 API calls.
