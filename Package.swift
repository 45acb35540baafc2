// swift-tools-version:6.0
import PackageDescription

// Dependencies are the versions served offline on this machine kind (see docs/DEVELOPING.md).
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let system: Target.Dependency = .product(name: "SystemPackage", package: "swift-system")
// Release builds of the three hot modules (the event loop, the JSON rendering, and the diagnostics'
// per-row ingest observer) skip the run-time exclusivity checks on class properties: perf showed
// swift_beginAccess/endAccess at ~9% of a run; without the flag on ReplayDiagnostics the full-size small
// matrix's ingest took 4.9-5.9 s against 3.4-4.5 s with it (same machine, alternating runs). Debug builds
// (and so the tests) keep the checks, so a violation still traps there. Unsafe flags make a package
// unusable as another package's dependency, so the package ships the executable only; its modules are
// libraries inside it (ReplayRun runs in process, as Tests/ReplayRunTests does).
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "replay",
    products: [
        .executable(name: "replay", targets: ["replay"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
    ],
    targets: [
        .systemLibrary(name: "CLMDB", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CArchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CXXHash", providers: [.apt(["libxxhash-dev"])]),
        .systemLibrary(name: "CISAL", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CPrefetch"),
        .systemLibrary(name: "CByteMask"),
        .target(name: "ReplayStream", dependencies: ["CArchive", "CXXHash", "CISAL", "CPrefetch", "CByteMask", logging, system], path: "Sources/Stream", swiftSettings: hotPath),
        .target(name: "ReplayState", dependencies: ["CLMDB", "ReplayStream", logging, system], path: "Sources/State"),
        .target(name: "ReplayDiagnostics", dependencies: ["ReplayStream", "CPrefetch", system], path: "Sources/Diagnostics", swiftSettings: hotPath),
        .target(name: "ReplaySink", dependencies: ["ReplayStream", "ReplayDiagnostics", system], path: "Sources/Sink", swiftSettings: hotPath),
        .target(
            name: "ReplayRun", dependencies: ["ReplayStream", "ReplayState", "ReplayDiagnostics", "ReplaySink", logging],
            path: "Sources/Run"),
        .target(name: "ReplayKafka", dependencies: ["CRdKafka", "ReplayStream", "ReplayState", "ReplaySink"], path: "Sources/Kafka"),
        .target(name: "KuaiRecFixtures", dependencies: ["ReplayStream", "CArchive"], path: "Sources/Fixtures"),
        .executableTarget(
            name: "replay",
            dependencies: [
                "ReplayRun", "ReplayStream", "ReplayState", "ReplayDiagnostics", "ReplaySink", "ReplayKafka", "KuaiRecFixtures",
                argumentParser, logging, system,
            ],
            path: "replay"
        ),
        .target(name: "ReplayTestSupport", dependencies: ["ReplayStream", "KuaiRecFixtures"], path: "Tests/Support"),
        .testTarget(name: "ReplayStreamTests", dependencies: ["ReplayStream", "ReplayTestSupport", "KuaiRecFixtures", system]),
        .testTarget(
            name: "ReplayDiagnosticsTests", dependencies: ["ReplayDiagnostics", "ReplayStream", "ReplayTestSupport"]),
        .testTarget(name: "ReplayKafkaTests", dependencies: ["ReplayKafka"]),
        .testTarget(name: "KuaiRecFixturesTests", dependencies: ["KuaiRecFixtures", "CArchive"]),
        .testTarget(name: "ReplayStateTests", dependencies: ["ReplayState", "ReplayStream"]),
        .testTarget(name: "ReplaySinkTests", dependencies: ["ReplaySink", "ReplayDiagnostics", "ReplayStream"]),
        .testTarget(
            name: "ReplayRunTests",
            dependencies: ["ReplayRun", "ReplayState", "ReplayStream", "ReplayDiagnostics", "KuaiRecFixtures", logging]),
        .testTarget(
            name: "ReplayEndToEndTests",
            dependencies: [
                "replay", "ReplayStream", "ReplaySink", "ReplayState", "ReplayKafka", "KuaiRecFixtures", "ReplayTestSupport",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
