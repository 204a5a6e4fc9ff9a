//! Terminal tables: the one comfy-table style the scorecard texts share (condensed UTF-8 borders,
//! numbers right-aligned).

use std::ops::Range;

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};

/// An empty table with the condensed UTF-8 style and this `header` row.
pub fn with_header(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    t
}

/// Right-aligns the columns `cols` (those holding numbers).
pub fn right_align(t: &mut Table, cols: Range<usize>) {
    for i in cols {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}
