// swift-tools-version: 6.1
// libFuzzer harnesses for every Rowpack parser (see Tests/RELIABILITY.md). Build with build.sh
// and run with run.sh / run-all.sh / smoke.sh: build.sh passes the sanitizer flags (including
// `-Xswiftc -sanitize=fuzzer,address`, without which SwiftPM builds the Swift code with no
// coverage) and `-enable-testing`, which FuzzChunkRecord's `@testable import Rowpack` needs.
import PackageDescription

let targets = [
    "FuzzFileHeader", "FuzzChunkRecord", "FuzzIndexPage", "FuzzCommitTrailer", "FuzzNpyHeader", "FuzzNpyFile", "FuzzDType",
    "FuzzOpen",
]

let package = Package(
    name: "RowpackFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Rowpack", path: "../..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "RowpackFormat", package: "Rowpack")])
    ]
        + targets.map { name in
            .executableTarget(
                name: name,
                dependencies: [
                    "FuzzSupport",
                    .product(name: "Rowpack", package: "Rowpack"),
                    .product(name: "RowpackFormat", package: "Rowpack"),
                ]
            )
        }
)
