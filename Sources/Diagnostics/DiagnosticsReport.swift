import ReplayStream

/// Every diagnostic table of the notebook as of one moment of a run, with where the run stood.
/// Assembled from what the state folder holds (``assemble(ingest:progress:thresholdsMode:interaction:panel:)``);
/// rendered to JSON, HTML and CSV by the sink module.
public struct DiagnosticsReport: Sendable, Equatable {
    /// Where the run stood when the report was taken.
    public struct Status: Sendable, Equatable {
        /// `ingest` (reading the log), `replay` (days closing) or `finished`.
        public var phase: String
        /// The last closed day, nil before the first.
        public var lastClosedDay: CalendarDay?
        /// Days closed, and the panel's dates in all.
        public var daysClosed: Int
        public var panelDays: Int
        /// Records written with `final: true`, and the panel's rows in all.
        public var finalRecords: Int
        public var panelRows: Int
        /// Rows the interaction tables cover, and rows left out of them (numbers that do not parse).
        public var interactionRows: Int
        public var rowsLeftOut: Int
        /// `batch`, `expanding` or `fixed:A,B`.
        public var thresholdsMode: String
        /// A live feed's rows so far (nil for an archive run): its panel has no known number of days.
        public var liveFeed: LiveFeedCoverage?

        /// Creates a status.
        public init(
            phase: String, lastClosedDay: CalendarDay? = nil, daysClosed: Int = 0, panelDays: Int = 0,
            finalRecords: Int = 0, panelRows: Int = 0, interactionRows: Int = 0, rowsLeftOut: Int = 0,
            thresholdsMode: String = ""
        ) {
            self.phase = phase
            self.lastClosedDay = lastClosedDay
            self.daysClosed = daysClosed
            self.panelDays = panelDays
            self.finalRecords = finalRecords
            self.panelRows = panelRows
            self.interactionRows = interactionRows
            self.rowsLeftOut = rowsLeftOut
            self.thresholdsMode = thresholdsMode
        }
    }

    /// What a live feed's report covers: the feed has no known end, so its tables cover the rows so far.
    public struct LiveFeedCoverage: Sendable, Equatable {
        /// Data rows the feed has read (kept in the tables or not).
        public var rowsRead: Int
        /// The latest day of a row taken so far (nil before one).
        public var throughDay: CalendarDay?

        /// Creates a coverage.
        public init(rowsRead: Int, throughDay: CalendarDay?) {
            self.rowsRead = rowsRead
            self.throughDay = throughDay
        }
    }

    /// Creates a report.
    public init(status: Status, tables: [DiagnosticTable]) {
        self.status = status
        self.tables = tables
    }

    /// Where the run stood.
    public var status: Status
    /// The tables, in the notebook's order.
    public var tables: [DiagnosticTable]

    /// The table named `name`.
    public func table(_ name: String) -> DiagnosticTable? { tables.first { $0.name == name } }

    /// The notebook's interaction-level table names, in its order.
    /// A `…_histogram` table holds a chart's exact bin counts (`bin_start`, `bin_end`, `count`).
    public static let interactionTableNames = [
        "coverage_summary", "missingness", "engagement_summary", "watch_ratio_histogram", "play_duration_histogram",
        "user_activity", "item_activity", "user_interactions_histogram", "user_active_days_histogram",
    ]
    /// The metadata tables' names.
    public static let metadataTableNames = [
        "metadata_diagnostics", "metadata_segments", "item_daily_summary", "item_show_count_histogram",
        "item_play_rate_histogram",
    ]

    /// Puts the report together from a state folder's records (any of them may be absent: a run
    /// that is still ingesting has no tables yet, one that has not checkpointed has empty panel tables).
    public static func assemble(
        ingest: IngestSummary?, progress: ReplayProgress?, thresholdsMode: String,
        interaction: InteractionDiagnostics?, panel: PanelDiagnosticsState?
    ) -> DiagnosticsReport {
        var panelDays = 0
        if let a = ingest?.firstDay, let b = ingest?.lastDay { panelDays = a.distance(to: b) + 1 }
        let users = ingest?.users.count ?? 0
        let phase = ingest == nil ? "ingest" : (progress?.finished == true ? "finished" : "replay")
        let status = Status(
            phase: phase,
            lastClosedDay: (progress?.daysClosed ?? 0) > 0 ? progress?.nextDay.adding(-1) : nil,
            daysClosed: progress?.daysClosed ?? 0, panelDays: panelDays, finalRecords: progress?.finalRecords ?? 0,
            panelRows: users * panelDays, interactionRows: interaction?.rows ?? 0,
            rowsLeftOut: interaction?.rowsLeftOut ?? 0, thresholdsMode: thresholdsMode)
        let pending = "the ingest pass is still reading the log; this table is complete when it ends"
        func interactionTable(_ name: String) -> DiagnosticTable {
            interaction?.tables.first { $0.name == name } ?? DiagnosticTable(name: name, columns: [], note: pending)
        }
        let state = panel ?? PanelDiagnosticsState(users: ingest?.users ?? [], firstDay: ingest?.firstDay)
        var thresholdsNote: String?
        if thresholdsMode == "expanding" { thresholdsNote = "expanding mode: the thresholds of the last closed day" }
        var tables = interactionTableNames.map(interactionTable)
        tables.append(PanelDiagnosticsState.thresholdsTable(progress?.thresholds, note: thresholdsNote))
        tables += [state.treatmentSummary, state.dailyPanelSummary, state.naiveAssociations, state.confoundingBalance]
        tables += metadataTableNames.map(interactionTable)
        if let joins = state.joinCoverage { tables.append(joins.table) }
        tables.append(state.readinessChecks)
        return DiagnosticsReport(status: status, tables: tables)
    }

    /// Puts a live feed's report together from its last checkpoint: `progress`, the feed's `coverage` (rows read,
    /// latest day), whether its input `ended`, and the observers' tables (nil before the first checkpoint).
    /// The phase is `live` until the input ended, then `finished`; the panel's days are those closed so far.
    public static func assembleLive(
        progress: ReplayProgress?, thresholdsMode: String, coverage: LiveFeedCoverage, ended: Bool,
        interaction: InteractionDiagnostics?, panel: PanelDiagnosticsState?
    ) -> DiagnosticsReport {
        let daysClosed = progress?.daysClosed ?? 0
        let state = panel ?? PanelDiagnosticsState(users: [], firstDay: nil)
        var status = Status(
            phase: ended ? "finished" : "live",
            lastClosedDay: daysClosed > 0 ? progress?.nextDay.adding(-1) : nil, daysClosed: daysClosed,
            panelDays: daysClosed, finalRecords: progress?.finalRecords ?? 0,
            panelRows: state.users.count * daysClosed, interactionRows: interaction?.rows ?? 0,
            rowsLeftOut: interaction?.rowsLeftOut ?? 0, thresholdsMode: thresholdsMode)
        status.liveFeed = coverage
        let pending = "no checkpoint of the feed yet: no rows so far"
        func interactionTable(_ name: String) -> DiagnosticTable {
            interaction?.tables.first { $0.name == name } ?? DiagnosticTable(name: name, columns: [], note: pending)
        }
        var thresholdsNote: String?
        if thresholdsMode == "expanding" { thresholdsNote = "expanding mode: the thresholds of the last closed day" }
        var tables = interactionTableNames.map(interactionTable)
        tables.append(PanelDiagnosticsState.thresholdsTable(progress?.thresholds, note: thresholdsNote))
        tables += [state.treatmentSummary, state.dailyPanelSummary, state.naiveAssociations, state.confoundingBalance]
        tables += metadataTableNames.map { name in
            interaction?.tables.first { $0.name == name }
                ?? DiagnosticTable(name: name, columns: [], note: InteractionDiagnosticsCollector.sideTablesNeeded)
        }
        if let joins = state.joinCoverage { tables.append(joins.table) }
        tables.append(state.readinessChecks)
        return DiagnosticsReport(status: status, tables: tables)
    }
}
