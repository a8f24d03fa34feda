import Foundation
import RowpackFormat
import Synchronization
import Testing

@testable import Rowpack

/// The decoded-chunk cache on its own: byte bound, single flight, scan resistance, and that a
/// key always gives back its own value.
@Suite struct RowCacheTests {
    /// The value stored under `key` in these tests: `size` bytes derived from the key.
    static func value(_ key: Int, size: Int) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: key &* 31 &+ $0) }
    }

    /// A cache key for the record at `offset` read as chunk `chunk`.
    static func key(_ offset: Int, chunk: Int = 0) -> RowCache.Key {
        RowCache.Key(record: Extent(offset: offset, length: 60), chunk: chunk, rows: 1)
    }

    @Test func capacityIsRespectedAndValuesBelongToTheirKeys() throws {
        for capacity in [0, 1, 100, 1000, 4096] {
            let cache = RowCache(capacity: capacity)
            #expect(cache.capacity == capacity)
            var random = SeededRandom(seed: UInt64(capacity))
            var loads = 0
            for _ in 0..<3000 {
                let key = Int(random.next() % 64)
                let size = 1 + key * 7 % 300  // the same size every time for a key
                let got = try cache.value(for: Self.key(key)) { () throws -> [UInt8] in
                    loads += 1
                    return Self.value(key, size: size)
                }
                #expect(got == Self.value(key, size: size), "capacity \(capacity), key \(key)")
                let stats = cache.statistics
                #expect(stats.bytes <= capacity, "capacity \(capacity): holds \(stats.bytes) bytes")
                #expect(stats.bytes >= 0)
            }
            let stats = cache.statistics
            #expect(stats.misses == loads, "every miss loads once")
            #expect(stats.hits + stats.misses == 3000)
            if capacity == 0 { #expect(stats.hits == 0) }
            if capacity == 4096 { #expect(stats.hits > 0 && stats.evictions > 0) }
        }
    }

    /// One record offset under two chunk numbers is two entries (readers key entries by
    /// offset and chunk): a lookup for another chunk loads, and the first entry stays.
    @Test func sameOffsetOtherChunkIsAMiss() throws {
        let cache = RowCache(capacity: 1 << 20)
        #expect(try cache.value(for: Self.key(7, chunk: 0)) { [1, 2, 3] } == [1, 2, 3])
        var loads = 0
        let other = try cache.value(for: Self.key(7, chunk: 1)) { () throws -> [UInt8] in
            loads += 1
            return [9]
        }
        #expect(other == [9])
        #expect(loads == 1)
        #expect(try cache.value(for: Self.key(7, chunk: 0)) { [0] } == [1, 2, 3])
        #expect(try cache.value(for: Self.key(7, chunk: 1)) { [0] } == [9])
    }

    /// A load in flight for (offset, chunk 0) is not shared with a miss of (offset, chunk 1):
    /// the second runs its own load. Made deterministic by holding the first load until the
    /// second has loaded (if the second waited for the first instead, the first gives up after
    /// its deadline and the second receives chunk 0's value: the test fails, it does not hang).
    @Test func loadsInFlightAreKeyedByChunkToo() throws {
        let cache = RowCache(capacity: 1 << 20)
        let secondLoaded = DispatchSemaphore(value: 0)
        let firstLoading = DispatchSemaphore(value: 0)
        let results = Mutex<[Int: [UInt8]]>([:])
        onThreads(2) { chunk in
            if chunk == 1 { firstLoading.wait() }
            let value = try? cache.value(for: Self.key(100, chunk: chunk)) { () throws -> [UInt8] in
                if chunk == 0 {
                    firstLoading.signal()
                    _ = secondLoaded.wait(timeout: .now() + 10)
                } else {
                    secondLoaded.signal()
                }
                return [UInt8(chunk)]
            }
            results.withLock { $0[chunk] = value }
        }
        #expect(results.withLock { $0 } == [0: [0], 1: [1]])
    }

    @Test func negativeCapacityIsEmpty() throws {
        let cache = RowCache(capacity: -5)
        #expect(cache.capacity == 0)
        _ = try cache.value(for: Self.key(1)) { () throws -> [UInt8] in [1, 2, 3] }
        #expect(cache.statistics.bytes == 0)
    }

    @Test func valueLargerThanCapacityIsNotKept() throws {
        let cache = RowCache(capacity: 10)
        var loads = 0
        for _ in 0..<3 {
            let got = try cache.value(for: Self.key(9)) { () throws -> [UInt8] in
                loads += 1
                return [UInt8](repeating: 7, count: 11)
            }
            #expect(got.count == 11)
        }
        #expect(loads == 3)
        #expect(cache.statistics.bytes == 0)
        _ = try cache.value(for: Self.key(1)) { () throws -> [UInt8] in [UInt8](repeating: 1, count: 10) }
        #expect(cache.statistics.bytes == 10)
    }

    @Test func failedLoadIsNotCached() throws {
        struct Boom: Error {}
        let cache = RowCache(capacity: 100)
        #expect(throws: Boom.self) { try cache.value(for: Self.key(3)) { () throws -> [UInt8] in throw Boom() } }
        #expect(cache.statistics.bytes == 0)
        let got = try cache.value(for: Self.key(3)) { () throws -> [UInt8] in [4, 5] }
        #expect(got == [4, 5])
        #expect(try cache.value(for: Self.key(3)) { () throws -> [UInt8] in [9] } == [4, 5])
    }

    /// Concurrent misses of one key share one load.
    @Test func singleFlight() throws {
        for round in 0..<5 {
            let cache = RowCache(capacity: 1 << 20)
            let loads = Counter()
            let failures = FailureLog()
            let threads = 8
            let ready = Counter()
            let start = DispatchSemaphore(value: 0)
            onThreads(threads) { _ in
                if ready.add() == threads {
                    for _ in 0..<threads { start.signal() }
                }
                start.wait()
                do {
                    let got = try cache.value(for: Self.key(42)) { () throws -> [UInt8] in
                        loads.add()
                        Thread.sleep(forTimeInterval: 0.05)
                        return Self.value(42, size: 1000)
                    }
                    if got != Self.value(42, size: 1000) { failures.record("wrong value") }
                } catch {
                    failures.record("\(error)")
                }
            }
            #expect(failures.all.isEmpty)
            #expect(loads.value == 1, "round \(round): concurrent misses must share one load")
            #expect(cache.statistics.misses == 1, "round \(round)")
            #expect(cache.statistics.bytes == 1000)
        }
    }

    /// Loads of different keys run at the same time: the lock is not held while loading.
    /// Checked by overlap, not by timing.
    @Test func loadsOfDifferentKeysRunOutsideTheLock() throws {
        let cache = RowCache(capacity: 1 << 20)
        let active = Counter()
        onThreads(4) { key in
            _ = try? cache.value(for: Self.key(key)) { () throws -> [UInt8] in
                active.add()
                Thread.sleep(forTimeInterval: 0.1)
                active.add(-1)
                return [UInt8(key)]
            }
        }
        #expect(active.maximum > 1)
    }

    /// A key used twice survives a long scan of keys used once (segmented LRU), while a key
    /// used once is pushed out by it.
    @Test func scanResistance() throws {
        let cache = RowCache(capacity: 1000)
        var loads: [Int: Int] = [:]
        func get(_ key: Int) throws {
            _ = try cache.value(for: Self.key(key)) { () throws -> [UInt8] in
                loads[key, default: 0] += 1
                return Self.value(key, size: 50)
            }
        }
        try get(-1)
        try get(-1)  // hot: used twice
        try get(-2)  // used once
        for key in 0..<500 { try get(key) }  // a scan of 25 000 bytes through a 1000-byte cache
        try get(-1)
        try get(-2)
        #expect(loads[-1] == 1, "the hot key must survive the scan")
        #expect(loads[-2] == 2, "a key used once is evicted by the scan")
        #expect(cache.statistics.bytes <= 1000)
    }

    /// Under contention from many threads with a cache far smaller than the working set, every
    /// value returned belongs to its key and the byte bound holds.
    @Test func contention() throws {
        let cache = RowCache(capacity: 2000)
        let failures = FailureLog()
        onThreads(8) { thread in
            var random = SeededRandom(seed: UInt64(thread))
            for _ in 0..<2000 {
                let key = Int(random.next() % 40)
                let size = 50 + key * 13 % 400
                do {
                    let got = try cache.value(for: Self.key(key)) { () throws -> [UInt8] in Self.value(key, size: size)
                    }
                    if got != Self.value(key, size: size) { failures.record("key \(key): wrong value") }
                } catch {
                    failures.record("\(error)")
                }
                let bytes = cache.statistics.bytes
                if bytes > 2000 || bytes < 0 { failures.record("cache holds \(bytes) bytes") }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
        // Threads that waited for another's load count as neither hits nor misses.
        #expect(cache.statistics.hits + cache.statistics.misses <= 16_000)
        #expect(cache.statistics.misses >= 40)
        #expect(cache.statistics.evictions > 0)
    }
}
