//! The evaluation table `train` and `backtest --report` print on standard output.

use harbinger::evaluation::Figures;
use harbinger::report::Report;

pub fn print_figures(report: &Report) {
    for target in &report.targets {
        println!(
            "{}: {} entities, {:.2} entity-days, horizon {} s",
            target.alert, target.entities, target.entity_days, target.horizon_seconds
        );
        println!(
            "  {:<34} {:>7} {:>7} {:>8} {:>9} {:>11} {:>9} {:>13} {:>14}",
            "method",
            "onsets",
            "caught",
            "tickets",
            "precision",
            "median lead",
            "p10 lead",
            "quiet tickets",
            "false/ent-day"
        );
        let window = target.predict_linear_window_seconds;
        let hold = target.predict_linear_hold_seconds;
        let rows: [(String, &Figures); 3] = [
            ("harbinger".to_owned(), &target.harbinger),
            (
                format!("predict_linear (W={window}s, for {hold}s)"),
                &target.predict_linear,
            ),
            ("the rule itself".to_owned(), &target.rule_baseline),
        ];
        for (name, f) in rows {
            let show = |v: Option<f64>, digits: usize| {
                v.map_or("-".to_owned(), |v| format!("{v:.digits$}"))
            };
            println!(
                "  {:<34} {:>7} {:>7} {:>8} {:>9} {:>11} {:>9} {:>13} {:>14.2}",
                name,
                f.onsets,
                f.caught,
                f.tickets,
                show(f.precision, 2),
                show(f.lead_median_seconds, 0),
                show(f.lead_p10_seconds, 0),
                f.quiet_entity_tickets,
                f.false_tickets_per_entity_day
            );
        }
    }
}
