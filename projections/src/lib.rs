//! Pure folds from ledger events to read models. Nothing here reads a database or a clock:
//! the same events always fold to the same models.

pub mod dashboard;
pub mod person;
pub mod run;
