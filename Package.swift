// swift-tools-version:6.1
import PackageDescription

/// Kiln: runs an application's long AI generations in background mode, from a run table.
///
/// Module map (see README "Layout"): `KilnDomain` (the run, its rules and decisions) depends on
/// nothing; `KilnWorker` is the runtime the submitter and poller share (the loop, leases, the
/// request budget, write retries, time and chance); every backend, the provider client and
/// the simulator are modules of their own; `kiln` (KilnCLI) is the only place that reads
/// files and the environment.
/// Swift 6 language mode everywhere. Warnings in Kiln's own code fail `scripts/test` (it reads
/// the build log), which catches GRDB's trap: a closure that captures a mutable value silently
/// picks the blocking `write` overload, and the only sign is a "no async operations" warning.
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Kiln",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kiln", targets: ["KilnCLI"]),
        .library(name: "KilnDomain", targets: ["KilnDomain"]),
        .library(name: "KilnWorker", targets: ["KilnWorker"]),
        .library(name: "KilnSQLite", targets: ["KilnSQLite"]),
        .library(name: "KilnPostgres", targets: ["KilnPostgres"]),
        .library(name: "KilnProvider", targets: ["KilnProvider"]),
        .library(name: "KilnSubmitter", targets: ["KilnSubmitter"]),
        .library(name: "KilnPoller", targets: ["KilnPoller"]),
        .library(name: "KilnSimulator", targets: ["KilnSimulator"]),
        .library(name: "KilnWebhooks", targets: ["KilnWebhooks"]),
        .library(name: "KilnOperator", targets: ["KilnOperator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .target(
            name: "KilnDomain",
            path: "Sources/Domain",
            swiftSettings: strict
        ),
        .target(
            name: "KilnWorker",
            dependencies: [
                "KilnDomain",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Worker",
            swiftSettings: strict
        ),
        .target(
            name: "KilnSQLite",
            dependencies: ["KilnDomain", .product(name: "GRDB", package: "GRDB.swift")],
            path: "Sources/SQLite",
            swiftSettings: strict
        ),
        .target(
            name: "KilnPostgres",
            dependencies: [
                "KilnDomain",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Postgres",
            swiftSettings: strict
        ),
        .target(
            name: "KilnProvider",
            dependencies: [
                "KilnDomain",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/Provider",
            swiftSettings: strict
        ),
        .target(
            name: "KilnWebhooks",
            dependencies: [
                "KilnDomain",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/Webhooks",
            swiftSettings: strict
        ),
        .target(
            name: "KilnOperator",
            dependencies: [
                "KilnDomain", "KilnWorker",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Operator",
            swiftSettings: strict
        ),
        .target(
            name: "KilnSimulator",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Simulator",
            swiftSettings: strict
        ),
        .target(
            name: "KilnSubmitter",
            dependencies: [
                "KilnDomain", "KilnWorker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Submitter",
            swiftSettings: strict
        ),
        .target(
            name: "KilnPoller",
            dependencies: [
                "KilnDomain", "KilnWorker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Poller",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "KilnCLI",
            dependencies: [
                "KilnDomain", "KilnWorker", "KilnSQLite", "KilnPostgres", "KilnProvider", "KilnSimulator", "KilnSubmitter",
                "KilnPoller", "KilnWebhooks", "KilnOperator", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/CLI",
            swiftSettings: strict
        ),
        .target(
            name: "KilnTestSupport",
            dependencies: ["KilnDomain", "KilnPostgres"],
            path: "Tests/Support",
            swiftSettings: strict
        ),
        .testTarget(
            name: "KilnDomainTests",
            dependencies: ["KilnDomain"],
            path: "Tests/DomainTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "KilnStoreTests",
            dependencies: [
                "KilnDomain", "KilnSQLite", "KilnPostgres", "KilnTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/StoreTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "KilnProviderTests",
            dependencies: [
                "KilnDomain", "KilnProvider", "KilnSimulator", "KilnTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/ProviderTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "KilnWorkerTests",
            dependencies: [
                "KilnDomain", "KilnWorker", "KilnSQLite", "KilnPostgres", "KilnProvider", "KilnSimulator", "KilnSubmitter",
                "KilnPoller", "KilnTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/WorkerTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "KilnWebhookTests",
            dependencies: [
                "KilnDomain", "KilnWebhooks", "KilnSimulator", "KilnTestSupport", "KilnSQLite", "KilnPostgres", "KilnProvider",
                "KilnSubmitter", "KilnPoller", "KilnWorker", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/WebhookTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "KilnOperatorTests",
            dependencies: [
                "KilnDomain", "KilnOperator", "KilnSQLite", "KilnPostgres", "KilnTestSupport", "KilnWorker", "KilnSubmitter", "KilnPoller",
                "KilnProvider", "KilnSimulator", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"), .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/OperatorTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "KilnCLITests",
            dependencies: ["KilnCLI", "KilnDomain", "KilnSQLite", "KilnPostgres", "KilnSimulator", "KilnTestSupport"],
            path: "Tests/CLITests",
            swiftSettings: strict
        ),
    ]
)
