import ReplayStream

/// The state of the panel-level diagnostics: running counts and sums per date, per treatment group
/// and per user, updated as records are emitted. Stored in every checkpoint, so a resumed run's
/// report equals an uninterrupted one's.
///
/// Size: a few numbers per panel date and one count per panel user; independent of the log's length.
public struct PanelDiagnosticsState: Codable, Equatable, Sendable {
    /// Counts of one panel date (its revision-0 records; `nextDay*` from its revision-1 records).
    public struct DateCounts: Codable, Equatable, Sendable {
        public var userDays = 0
        public var active = 0
        public var highIntensity = 0
        public var highWatchExposure = 0
        /// Records whose `next_day_active` is known (not null).
        public var nextDayKnown = 0
        /// Sum of those `next_day_active` values.
        public var nextDayActive = 0
    }

    /// The panel's first date (index 0 of ``dates``).
    public var firstDay: CalendarDay?
    /// Per date, from the first date, as far as days have closed.
    public var dates: [DateCounts] = []
    /// The panel's users (ascending in an archive run; in order of their first record in a live feed), and
    /// each one's active days so far (`active_days_per_user`).
    public var users: [Int32] = []
    public var activeDaysPerUser: [Int] = []
    /// Revision-0 records seen (user-days closed).
    public var userDays = 0
    public var treatedHighIntensity = 0
    public var treatedHighWatchExposure = 0
    /// Naive associations: final active records, by treatment (2) × outcome (4) × flag value (2).
    public var naive = [RunningMoments](repeating: RunningMoments(), count: 16)
    /// Balance: revision-0 active records, by treatment (2) × covariate (8) × flag value (2).
    public var balance = [RunningMoments](repeating: RunningMoments(), count: 32)
    /// Null values per pre-treatment covariate over revision-0 records.
    public var covariateNulls = [Int](repeating: 0, count: 8)
    /// Final records seen, and how many of them have `future_3day_active_days` / `future_7day_active_days`.
    public var finalRecords = 0
    public var future3Known = 0
    public var future7Known = 0
    /// The joined tables' coverage (nil when nothing is joined).
    public var joinCoverage: JoinCoverage?

    /// An empty state for a panel of `users` starting on `firstDay`.
    public init(users: [Int32], firstDay: CalendarDay?) {
        self.users = users
        self.firstDay = firstDay
        activeDaysPerUser = [Int](repeating: 0, count: users.count)
    }
}

/// Keeps the notebook's panel-level diagnostics current as the replay emits records: thresholds,
/// `treatment_summary`, `daily_panel_summary`, `naive_associations`, `confounding_balance`,
/// `readiness_checks`.
///
/// What "so far" means while the replay runs: per-date rates, treatment shares, the balance table
/// and active days per user cover the days closed so far (their values never change later);
/// `next_day_active_rate` appears for a date once the next date closes; the naive table and the two
/// "future outcomes available" checks cover the records that are final. At the end of the replay
/// every table covers the whole panel and equals the notebook's. A live feed's late row revised in takes
/// back what each record it replaces counted (``recordRevised(_:replacing:)``).
public final class PanelDiagnostics: PanelObserver {
    /// The treatments, in the notebook's order.
    public static let treatments = ["treatment_high_intensity", "treatment_high_watch_exposure"]
    /// The naive table's outcomes, in the notebook's order.
    public static let outcomes = [
        "next_day_active", "future_3day_active_days", "future_3day_interactions", "future_7day_active_days",
    ]
    /// `pre_treatment_covariates`, in the notebook's order.
    public static let covariates = [
        "lag_1_active_day", "lag_1_interactions", "lag_1_total_play_duration_sec", "lag_1_avg_watch_ratio",
        "prior_3day_active_day", "prior_3day_interactions", "prior_3day_total_play_duration_sec",
        "prior_3day_high_watch_share",
    ]

    /// The running state.
    public internal(set) var state: PanelDiagnosticsState
    /// Each user's slot in `state.users` (looked up for every closed record: a dense array for KuaiRec's ids, where
    /// a dictionary's hashing and probing held ~3.7% of the event loop's samples in a cached replay at 4x the users).
    private var userIndex = DenseIDIndex()
    /// The users with joined features (``observeJoins(userFeatureUsers:itemContext:)``).
    var joinedUsers: Set<Int32>? {
        didSet { userFeatureKnown = [] }
    }
    /// By user slot: whether ``joinedUsers`` holds the user (0: not looked up yet, 1: no, 2: yes).
    private var userFeatureKnown: [UInt8] = []

    /// Starts from `restored` (a checkpoint's state) or from nothing.
    public init(users: [Int32], firstDay: CalendarDay?, restoring restored: PanelDiagnosticsState? = nil) {
        state = restored ?? PanelDiagnosticsState(users: users, firstDay: firstDay)
        for user in state.users {
            var isNew = false
            _ = userIndex.slot(of: user) { isNew = true }
            precondition(isNew, "PanelDiagnostics: user \(user) is listed twice")
        }
    }

    /// Starts from `checkpoint`'s payload, or from nothing when it holds none.
    /// - Throws: when the payload cannot be decoded.
    public convenience init(users: [Int32], firstDay: CalendarDay?, restoringFrom checkpoint: PanelCheckpoint?) throws {
        let restored = try DiagnosticsPayloads.decode(
            PanelDiagnosticsState.self, from: checkpoint?.payloads[DiagnosticsPayloads.panel])
        self.init(users: users, firstDay: firstDay, restoring: restored)
    }

    public var payloadName: String { DiagnosticsPayloads.panel }

    public func checkpointPayload() throws -> [UInt8] { try DiagnosticsPayloads.encode(state) }

    @inline(__always)
    static func treatmentFlag(_ record: borrowing UserDayRecord, _ t: Int) -> Int {
        t == 0 ? record.treatmentHighIntensity : record.treatmentHighWatchExposure
    }

    /// The eight covariates of a record, in ``covariates`` order (inline: no allocation per record).
    @inline(__always)
    static func covariateValues(_ r: borrowing UserDayRecord) -> InlineArray<8, Double> {
        [r.lag1[0], r.lag1[1], r.lag1[2], r.lag1[3], r.prior3[0], r.prior3[1], r.prior3[2], r.prior3[4]]
    }

    /// The four outcomes of a record, in ``outcomes`` order (NaN = unknown; inline: no allocation per record).
    @inline(__always)
    static func outcomeValues(_ r: borrowing UserDayRecord) -> InlineArray<4, Double> {
        [r.lead(1, column: 0), r.future(3, column: 0), r.future(3, column: 1), r.future(7, column: 0)]
    }

    public func recordEmitted(_ record: UserDayRecord) {
        // A live feed's panel starts with its first closed day, whose records come first.
        if state.firstDay == nil { state.firstDay = record.day }
        if record.revision == 0 { count(closed: record, 1) }
        if record.isFinal { count(final: record, 1) }
    }

    /// A late row's revision (`--late-policy revise`): what `previous` counted is taken back, and `record` counted
    /// in its place (a final record stays final).
    public func recordRevised(_ record: UserDayRecord, replacing previous: UserDayRecord) {
        count(closed: previous, -1)
        if previous.isFinal { count(final: previous, -1) }
        count(closed: record, 1)
        if record.isFinal { count(final: record, 1) }
    }

    @inline(__always)
    private func dateIndex(_ day: CalendarDay) -> Int? {
        guard let first = state.firstDay else { return nil }
        let i = first.distance(to: day)
        guard i >= 0 else { return nil }
        while state.dates.count <= i { state.dates.append(PanelDiagnosticsState.DateCounts()) }
        return i
    }

    /// The user's slot in the state; a user first seen here is added (a live feed's users arrive as it goes;
    /// an archive run's are all known from the ingest).
    @inline(__always)
    private func userSlot(_ user: Int32) -> Int {
        userIndex.slot(of: user) {
            state.users.append(user)
            state.activeDaysPerUser.append(0)
        }
    }

    /// Adds (`sign` 1) or takes back (-1) what a closed user-day counts: its date's counts, its treatments, its
    /// user's active days, its covariates; and, as the next day of the day before, that day's
    /// `next_day_active` (the day before's revision 1 carries it, written when this day closes). Runs on the event
    /// loop for every record: the record is borrowed (copying its ~500 bytes per call costs more than the counting
    /// itself), and each array is updated through one buffer.
    private func count(closed r: borrowing UserDayRecord, _ sign: Int) {
        let active = r.daily.activeDay == 1
        let u = userSlot(r.userID)
        if state.joinCoverage != nil {
            state.joinCoverage!.add(r, hasUserFeatures: hasUserFeatures(slot: u, user: r.userID), sign: sign)
        }
        state.userDays += sign
        state.treatedHighIntensity += sign * r.treatmentHighIntensity
        state.treatedHighWatchExposure += sign * r.treatmentHighWatchExposure
        if let i = dateIndex(r.day) {
            let activeDay = r.daily.activeDay
            let (highIntensity, highWatch) = (r.treatmentHighIntensity, r.treatmentHighWatchExposure)
            state.dates.withUnsafeMutableBufferPointer { dates in
                dates[i].userDays += sign
                dates[i].active += sign * activeDay
                dates[i].highIntensity += sign * highIntensity
                dates[i].highWatchExposure += sign * highWatch
                if i > 0 {
                    dates[i - 1].nextDayKnown += sign
                    dates[i - 1].nextDayActive += sign * activeDay
                }
            }
        }
        if active { state.activeDaysPerUser[u] += sign }
        let covariates = PanelDiagnostics.covariateValues(r)
        state.covariateNulls.withUnsafeMutableBufferPointer { nulls in
            for c in 0..<8 where covariates[c].isNaN { nulls[c] += sign }
        }
        guard active else { return }
        let groups = PanelDiagnostics.treatmentGroups(r)
        // Each (treatment, covariate, group) cell takes the records' values in emission order, as one cell at a time would.
        state.balance.withUnsafeMutableBufferPointer { balance in
            for c in 0..<8 where !covariates[c].isNaN {
                balance[c * 2 + groups.0].add(covariates[c], sign: sign)
                balance[(8 + c) * 2 + groups.1].add(covariates[c], sign: sign)
            }
        }
    }

    /// Adds (`sign` 1) or takes back (-1) what a final record counts: the outcomes known, the naive table.
    private func count(final r: borrowing UserDayRecord, _ sign: Int) {
        state.finalRecords += sign
        let outcomes = PanelDiagnostics.outcomeValues(r)
        if !outcomes[1].isNaN { state.future3Known += sign }
        if !outcomes[3].isNaN { state.future7Known += sign }
        guard r.daily.activeDay == 1 else { return }
        let groups = PanelDiagnostics.treatmentGroups(r)
        state.naive.withUnsafeMutableBufferPointer { naive in
            for o in 0..<4 where !outcomes[o].isNaN {
                naive[o * 2 + groups.0].add(outcomes[o], sign: sign)
                naive[(4 + o) * 2 + groups.1].add(outcomes[o], sign: sign)
            }
        }
    }

    /// The record's group (1: treated, 0: not) under each treatment, in ``treatments`` order.
    @inline(__always)
    private static func treatmentGroups(_ r: borrowing UserDayRecord) -> (Int, Int) {
        (treatmentFlag(r, 0) == 1 ? 1 : 0, treatmentFlag(r, 1) == 1 ? 1 : 0)
    }

    /// Whether the user in slot `u` has a row in `user_features.csv` (true when user features are not joined),
    /// looked up in the set once per user.
    @inline(__always)
    private func hasUserFeatures(slot u: Int, user: Int32) -> Bool {
        guard let joinedUsers else { return true }
        if u >= userFeatureKnown.count {
            userFeatureKnown.append(contentsOf: repeatElement(0, count: u + 1 - userFeatureKnown.count))
        }
        if userFeatureKnown[u] == 0 { userFeatureKnown[u] = joinedUsers.contains(user) ? 2 : 1 }
        return userFeatureKnown[u] == 2
    }
}

extension PanelDiagnosticsState {
    /// `thresholds`: the two candidate treatments' rules and the thresholds in use (the last closed
    /// day's, under `--thresholds expanding`).
    public static func thresholdsTable(_ thresholds: TreatmentThresholds?, note: String? = nil) -> DiagnosticTable {
        DiagnosticTable(
            name: "thresholds", columns: ["candidate_treatment", "rule", "threshold"],
            rows: [
                [
                    .string("treatment_high_intensity"),
                    .string("active day and interactions >= active-day 75th percentile"),
                    thresholds.map { .number($0.highIntensity) } ?? .null,
                ],
                [
                    .string("treatment_high_watch_exposure"), .string("active day and high_watch_share >= active-day median"),
                    thresholds.map { .number($0.highWatchShare) } ?? .null,
                ],
            ], note: note)
    }

    /// `treatment_summary`: share of user-days treated and treated user-days, per treatment.
    public var treatmentSummary: DiagnosticTable {
        let n = Double(userDays)
        return DiagnosticTable(
            name: "treatment_summary", columns: ["column", "share_of_user_days", "treated_user_days"],
            rows: [
                [.string(PanelDiagnostics.treatments[0]), .number(Double(treatedHighIntensity) / n), .number(Double(treatedHighIntensity))],
                [.string(PanelDiagnostics.treatments[1]), .number(Double(treatedHighWatchExposure) / n), .number(Double(treatedHighWatchExposure))],
            ])
    }

    /// `daily_panel_summary`: per date, the active rate, the two treatment rates and the next-day active rate.
    public var dailyPanelSummary: DiagnosticTable {
        var rows: [[DiagnosticValue]] = []
        if let first = firstDay {
            for (i, d) in dates.enumerated() where d.userDays > 0 {
                let n = Double(d.userDays)
                rows.append([
                    .string("\(first.adding(i))"), .number(Double(d.active) / n), .number(Double(d.highIntensity) / n),
                    .number(Double(d.highWatchExposure) / n), .number(Double(d.nextDayActive) / Double(d.nextDayKnown)),
                ])
            }
        }
        return DiagnosticTable(
            name: "daily_panel_summary",
            columns: ["event_date", "active_rate", "high_intensity_rate", "high_watch_exposure_rate", "next_day_active_rate"],
            rows: rows)
    }

    /// `naive_associations`: future outcomes of treated vs untreated active days (final records).
    public var naiveAssociations: DiagnosticTable {
        var rows: [[DiagnosticValue]] = []
        for t in 0..<2 {
            for o in 0..<4 {
                let control = naive[(t * 4 + o) * 2], treated = naive[(t * 4 + o) * 2 + 1]
                guard control.count > 0, treated.count > 0 else { continue }
                let c = control.mean, m = treated.mean
                rows.append([
                    .string(PanelDiagnostics.treatments[t]), .string(PanelDiagnostics.outcomes[o]), .number(c), .number(m),
                    .number(m - c), .number(c != 0 ? m / c - 1 : .nan), .count(control.count), .count(treated.count),
                ])
            }
        }
        return DiagnosticTable(
            name: "naive_associations",
            columns: [
                "treatment", "outcome", "control_mean", "treated_mean", "difference", "relative_lift", "control_days",
                "treated_days",
            ], rows: rows)
    }

    /// `confounding_balance`: treated and control means and the standardized mean difference of each covariate.
    public var confoundingBalance: DiagnosticTable {
        var rows: [[DiagnosticValue]] = []
        for t in 0..<2 {
            for c in 0..<8 {
                let control = balance[(t * 8 + c) * 2], treated = balance[(t * 8 + c) * 2 + 1]
                let pooled = ((treated.sampleVariance + control.sampleVariance) / 2).squareRoot()
                let smd = pooled != 0 && !pooled.isNaN ? (treated.mean - control.mean) / pooled : .nan
                rows.append([
                    .string(PanelDiagnostics.treatments[t]), .string(PanelDiagnostics.covariates[c]), .number(treated.mean),
                    .number(control.mean), .number(smd),
                ])
            }
        }
        return DiagnosticTable(
            name: "confounding_balance", columns: ["treatment", "covariate", "treated_mean", "control_mean", "smd"],
            rows: rows)
    }

    /// `readiness_checks`: the notebook's eight go/no-go checks, with values and pass/fail.
    public var readinessChecks: DiagnosticTable {
        let n = Double(userDays)
        let median = NumpyQuantile.median(sorted: activeDaysPerUser.map(Double.init).sorted())
        let dateCount = dates.filter { $0.userDays > 0 }.count
        let hi = Double(treatedHighIntensity) / n, hw = Double(treatedHighWatchExposure) / n
        let f3 = Double(future3Known) / Double(finalRecords), f7 = Double(future7Known) / Double(finalRecords)
        let nullRate = covariateNulls.map { Double($0) / n }.max() ?? .nan
        func row(_ check: String, _ value: DiagnosticValue, _ passes: Bool) -> [DiagnosticValue] {
            [.string(check), value, .bool(passes)]
        }
        return DiagnosticTable(
            name: "readiness_checks", columns: ["check", "value", "passes"],
            rows: [
                row("at least 50 users in sample", .count(users.count), users.count >= 50),
                row("median user has at least 7 active days", .number(median), median >= 7),
                row("at least 30 calendar dates", .count(dateCount), dateCount >= 30),
                row("high-intensity treatment has non-trivial variation", .number(hi), 0.01 < hi && hi < 0.99),
                row("high-watch treatment has non-trivial variation", .number(hw), 0.01 < hw && hw < 0.99),
                row("future 3-day outcomes available for most rows", .number(f3), f3 >= 0.80),
                row("future 7-day outcomes available for most rows", .number(f7), f7 >= 0.70),
                row("lagged confounders have no missing values after filling panel starts", .number(nullRate), nullRate == 0),
            ])
    }
}
