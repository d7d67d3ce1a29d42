//! The references every figure is shown next to. Placeholder replaced below.
