// swift-tools-version: 6.1
// The package-benchmark suite, kept in its own package so `swift build` and `swift test` of
// Rowpack do not build the benchmark harness. Run: cd Benchmarks && swift package benchmark
import PackageDescription

let package = Package(
    name: "RowpackBenchmarks",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rowpack-probe", targets: ["RowpackProbe"])
    ],
    dependencies: [
        .package(name: "Rowpack", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "RowpackBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "Rowpack", package: "Rowpack"),
                .product(name: "RowpackFormat", package: "Rowpack"),
            ],
            path: "Benchmarks/RowpackBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // Rowpack's side of compare/compare.py: measures one dataset, prints one JSON object.
        .executableTarget(
            name: "RowpackProbe",
            dependencies: [
                .product(name: "Rowpack", package: "Rowpack"),
                .product(name: "RowpackFormat", package: "Rowpack"),
            ],
            path: "compare/RowpackProbe"
        ),
    ]
)
