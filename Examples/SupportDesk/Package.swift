// swift-tools-version:6.1
import PackageDescription

/// SupportDesk: a small Hummingbird app that drafts support replies with Kiln.
///
/// `SupportDeskApp` holds the app (its feature, authentication, routes and the service group
/// that runs Kiln's submitter and poller beside the HTTP server); `SupportDesk` is the thin
/// executable that reads the environment. Kiln is a dependency by path, as an app would
/// depend on a released version.
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "SupportDesk",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "SupportDesk", targets: ["SupportDesk"])
    ],
    dependencies: [
        .package(name: "Kiln", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        .target(
            name: "SupportDeskApp",
            dependencies: [
                .product(name: "KilnDomain", package: "Kiln"),
                .product(name: "KilnWorker", package: "Kiln"),
                .product(name: "KilnSQLite", package: "Kiln"),
                .product(name: "KilnProvider", package: "Kiln"),
                .product(name: "KilnSubmitter", package: "Kiln"),
                .product(name: "KilnPoller", package: "Kiln"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "SupportDesk",
            dependencies: [
                "SupportDeskApp",
                .product(name: "KilnDomain", package: "Kiln"),
                .product(name: "KilnProvider", package: "Kiln"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SupportDeskTests",
            dependencies: [
                "SupportDeskApp",
                .product(name: "KilnDomain", package: "Kiln"),
                .product(name: "KilnProvider", package: "Kiln"),
                .product(name: "KilnSimulator", package: "Kiln"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
    ]
)
