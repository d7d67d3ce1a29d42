//! The load bench's printed tables: one row per figure (name, value, target), rules
//! between sections, and the number formats.

pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 && c != '-' {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A rule across the table.
pub fn rule() {
    println!("{:-<104}", "");
}

/// One figure: its name, value and target (or nothing).
pub fn row(name: &str, value: String, target: &str) {
    println!("{name:<44} {value:>26}   {target:<30}");
}
