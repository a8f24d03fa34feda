public import RowpackFormat

/// A Swift scalar type whose in-memory layout is a numpy dtype, so arrays of it can be appended
/// and read without conversion. The container's dtype must equal ``dtype`` exactly: no casts.
public protocol RowElement: BitwiseCopyable, Sendable {
    /// The numpy dtype with this type's layout (little-endian on the supported platforms).
    static var dtype: DType { get }
}

extension Bool: RowElement { public static var dtype: DType { .bool } }
extension Int8: RowElement { public static var dtype: DType { .int8 } }
extension Int16: RowElement { public static var dtype: DType { .int16 } }
extension Int32: RowElement { public static var dtype: DType { .int32 } }
extension Int64: RowElement { public static var dtype: DType { .int64 } }
extension Int: RowElement { public static var dtype: DType { .int64 } }
extension UInt8: RowElement { public static var dtype: DType { .uint8 } }
extension UInt16: RowElement { public static var dtype: DType { .uint16 } }
extension UInt32: RowElement { public static var dtype: DType { .uint32 } }
extension UInt64: RowElement { public static var dtype: DType { .uint64 } }
extension UInt: RowElement { public static var dtype: DType { .uint64 } }
extension Float: RowElement { public static var dtype: DType { .float32 } }
extension Double: RowElement { public static var dtype: DType { .float64 } }
