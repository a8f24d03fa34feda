import Foundation
import Testing
@testable import Rowpack
import RowpackFormat

@Test func smokeRoundTrip() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rp-smoke-\(UUID())").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let path = dir + "/a.rowpack"
    let writer = try ContainerWriter.create(at: path, dtype: .float32, rowShape: [3], options: WriterOptions(rowsPerChunk: 4))
    var expected: [Float] = []
    for i in 0..<10 {
        let row: [Float] = [Float(i), Float(i) + 0.5, -Float(i)]
        expected += row
        try writer.append(row)
    }
    try writer.commit()
    try writer.append([1, 2, 3] as [Float])
    expected += [1, 2, 3]
    try writer.close()
    let reader = try ContainerReader(path: path)
    #expect(reader.rowCount == 11)
    #expect(try reader.read(rows: 0..<11, as: Float.self) == expected)
    let writer2 = try ContainerWriter.open(at: path)
    try writer2.append([7, 8, 9] as [Float])
    try writer2.close()
    try reader.refresh()
    #expect(try reader.read(rows: 0..<12, as: Float.self) == expected + [7, 8, 9])
    #expect(reader.verify().isEmpty)
}
