/// SplitMix64: a small, fast, seeded generator — the same seed gives the same numbers on every
/// platform and run. Not for cryptography.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    public mutating func unit() -> Float { Float(Int64(bitPattern: next()) >> 40) / Float(1 << 23) }
}

/// The built-in sample: a seeded stream of float32 sensor rows, each channel a smooth random
/// walk around its own level plus a little noise. `rowpack demo` appends it, and the benchmarks
/// measure on it, so their figures describe the same data.
public struct SampleSensor: Sendable {
    /// Values per row.
    public let channels: Int
    private var generator: SplitMix64
    private var level: [Float]
    private var drift: [Float]

    /// A stream of rows of `channels` values, determined by `seed`.
    public init(seed: UInt64 = 42, channels: Int = 64) {
        self.channels = channels
        generator = SplitMix64(seed: seed)
        level = (0..<channels).map { Float($0) * 10 }
        drift = [Float](repeating: 0, count: channels)
    }

    /// Writes the next row into `row` (`channels` values).
    public mutating func next(into row: inout [Float]) {
        for channel in 0..<channels {
            drift[channel] = 0.95 * drift[channel] + 0.05 * generator.unit()
            level[channel] += drift[channel]
            row[channel] = level[channel] + 0.01 * generator.unit()
        }
    }

    /// The first `count` rows of the stream for `seed`, flattened.
    public static func rows(_ count: Int, seed: UInt64 = 42, channels: Int = 64) -> [Float] {
        var stream = SampleSensor(seed: seed, channels: channels)
        var row = [Float](repeating: 0, count: channels)
        var all: [Float] = []
        all.reserveCapacity(count * channels)
        for _ in 0..<count {
            stream.next(into: &row)
            all.append(contentsOf: row)
        }
        return all
    }
}
