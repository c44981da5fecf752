//! Wire contract §5: temporary download URLs.
