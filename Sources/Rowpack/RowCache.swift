import Dispatch
import RowpackFormat
import Synchronization

/// A byte-bounded cache of decoded chunks shared by every thread reading a container.
///
/// - Eviction is segmented LRU: a chunk enters a probation segment and moves to a protected
///   segment (at most 80% of the capacity) on its second use, so a one-pass scan only churns
///   probation and never flushes the hot working set.
/// - Concurrent misses of the same chunk share one decode (single flight); decoding runs
///   outside the lock, which guards bookkeeping only.
/// - Keys are everything a load checks the record against: its extent, the chunk number and
///   the row count the index gives it. Committed bytes never change, so an entry never goes
///   stale, not even across ``ContainerReader/refresh()``; and because the chunk and rows are
///   part of the key, for cached entries and loads in flight alike, a hostile index that lists
///   one record for two chunks (or, in a later commit, for more rows) can never make a read
///   return another chunk's rows or too few: each such lookup runs its own load and checks.
///
/// Thread-safe. A hit costs one lock, one hash lookup and two list relinks: no allocation.
public final class RowCache: Sendable {
    /// What an entry is stored under: where the record lies, and which chunk and how many rows
    /// the index says it holds.
    struct Key: Hashable, Sendable {
        var record: Extent
        var chunk: Int
        var rows: Int
    }

    /// Hit, miss and eviction counters since creation.
    public struct Statistics: Sendable, Hashable {
        public var hits = 0
        public var misses = 0
        public var evictions = 0
        public var bytes = 0
    }

    /// The default capacity: 64 MiB.
    public static let defaultCapacity = 64 << 20

    /// Most bytes the cache holds (one entry larger than this is decoded but not kept).
    public let capacity: Int
    private let state: Mutex<State>
    /// Called with the key just before each load starts, outside the lock (tests use it to hold
    /// a load while other threads miss the same record).
    private let willLoad: (@Sendable (Key) -> Void)?

    /// A cache holding at most `capacity` bytes of decoded chunks.
    public convenience init(capacity: Int = RowCache.defaultCapacity) {
        self.init(capacity: capacity, willLoad: nil)
    }

    init(capacity: Int, willLoad: (@Sendable (Key) -> Void)?) {
        self.capacity = max(0, capacity)
        self.willLoad = willLoad
        state = Mutex(State(protectedLimit: max(0, capacity) / 5 * 4))
    }

    /// The counters so far.
    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// The chunk stored under `key`, decoding it with `load` on a miss; concurrent misses of
    /// one key share one load.
    func value(for key: Key, load: () throws -> [UInt8]) throws -> [UInt8] {
        let lookup: Lookup = state.withLock { state in
            if let value = state.hit(key) { return .hit(value) }
            if let flight = state.flights[key] {
                state.statistics.hits += 1
                return .wait(flight)
            }
            let flight = Flight()
            state.flights[key] = flight
            state.statistics.misses += 1
            return .load(flight)
        }
        switch lookup {
        case .hit(let value):
            return value
        case .wait(let flight):
            flight.group.wait()
            if let value = flight.value.withLock({ $0 }) { return value }
            return try load()  // the first loader failed: try ourselves, to report our own error
        case .load(let flight):
            let value: [UInt8]
            do {
                willLoad?(key)
                value = try load()
            } catch {
                state.withLock { _ = $0.flights.removeValue(forKey: key) }
                flight.group.leave()
                throw error
            }
            flight.value.withLock { $0 = value }
            let capacity = self.capacity
            state.withLock { state in
                state.flights.removeValue(forKey: key)
                if value.count <= capacity { state.insert(key, value, capacity: capacity) }
            }
            flight.group.leave()
            return value
        }
    }

    private enum Lookup {
        case hit([UInt8])
        case wait(Flight)
        case load(Flight)
    }

    /// One decode in progress, which other missers of the same key wait for.
    final class Flight: Sendable {
        let group: DispatchGroup
        let value = Mutex<[UInt8]?>(nil)
        init() {
            group = DispatchGroup()
            group.enter()
        }
    }

    /// Entries in two doubly linked lists (probation, protected), nodes in an array.
    struct State {
        struct Node {
            var key: Key
            var value: [UInt8]
            var previous = -1
            var next = -1
            var isProtected = false
        }
        struct List {
            var head = -1
            var tail = -1
            var bytes = 0
        }

        var nodes: [Node] = []
        var free: [Int] = []
        var index: [Key: Int] = [:]
        var probation = List()
        var protected = List()
        var flights: [Key: Flight] = [:]
        var statistics = Statistics()
        let protectedLimit: Int

        init(protectedLimit: Int) { self.protectedLimit = protectedLimit }

        mutating func hit(_ key: Key) -> [UInt8]? {
            guard let node = index[key] else { return nil }
            statistics.hits += 1
            unlink(node)
            pushFront(node, protected: true)
            while protected.bytes > protectedLimit, protected.tail != node {
                let demoted = protected.tail
                unlink(demoted)
                pushFront(demoted, protected: false)
            }
            return nodes[node].value
        }

        mutating func insert(_ key: Key, _ value: [UInt8], capacity: Int) {
            guard index[key] == nil else { return }
            while probation.bytes + protected.bytes + value.count > capacity {
                let victim = probation.tail >= 0 ? probation.tail : protected.tail
                guard victim >= 0 else { break }
                unlink(victim)
                index.removeValue(forKey: nodes[victim].key)
                nodes[victim].value = []
                free.append(victim)
                statistics.evictions += 1
            }
            let node: Int
            if let reused = free.popLast() {
                node = reused
                nodes[node] = Node(key: key, value: value)
            } else {
                node = nodes.count
                nodes.append(Node(key: key, value: value))
            }
            index[key] = node
            pushFront(node, protected: false)
        }

        private mutating func unlink(_ node: Int) {
            let (previous, next) = (nodes[node].previous, nodes[node].next)
            var list = nodes[node].isProtected ? protected : probation
            if previous >= 0 { nodes[previous].next = next } else { list.head = next }
            if next >= 0 { nodes[next].previous = previous } else { list.tail = previous }
            list.bytes -= nodes[node].value.count
            statistics.bytes -= nodes[node].value.count
            store(list, protected: nodes[node].isProtected)
        }

        private mutating func pushFront(_ node: Int, protected isProtected: Bool) {
            var list = isProtected ? protected : probation
            nodes[node].previous = -1
            nodes[node].next = list.head
            nodes[node].isProtected = isProtected
            if list.head >= 0 { nodes[list.head].previous = node } else { list.tail = node }
            list.head = node
            list.bytes += nodes[node].value.count
            statistics.bytes += nodes[node].value.count
            store(list, protected: isProtected)
        }

        private mutating func store(_ list: List, protected isProtected: Bool) {
            if isProtected { protected = list } else { probation = list }
        }
    }
}
