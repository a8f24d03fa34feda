// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Rowpack",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Rowpack", targets: ["Rowpack"]),
        .library(name: "RowpackFormat", targets: ["RowpackFormat"]),
        .executable(name: "rowpack", targets: ["RowpackCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(name: "CRowpackKernels"),
        .target(name: "RowpackFormat", swiftSettings: strict),
        .target(
            name: "Rowpack",
            dependencies: [
                "RowpackFormat", "CZlib", "CZstd", "CRowpackKernels",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "RowpackCLI",
            dependencies: [
                "Rowpack", "RowpackFormat",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "RowpackFormatTests", dependencies: ["RowpackFormat"], swiftSettings: strict),
        .testTarget(
            name: "RowpackTests",
            dependencies: ["Rowpack", "RowpackFormat"],
            swiftSettings: strict
        ),
    ]
)
