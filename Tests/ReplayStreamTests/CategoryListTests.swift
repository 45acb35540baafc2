import Testing

@testable import ReplayStream

/// `parse_category_list` read from ASCII bytes agrees with the same rules through Foundation's trimming.
@Suite struct CategoryListTests {
    @Test func theASCIIPathAgreesWithFoundationsTrimming() {
        var random = SystemRandomNumberGenerator()
        let alphabet = Array("[]0123456789, \t-+a\r\n".utf8)
        var cases = [
            "[27, 9]", "[0]", "[]", "[ ]", " [1,2] ", "\t[3,\t4 ]", "[1, 2,]", "[,]", "[1,,2]", "27", "[a]", "[+5]",
            "[-0]", "[007]", "[-]", "[+]", "[9223372036854775807]", "[9223372036854775808]", "[-9223372036854775808]",
            "[-9223372036854775809]", "[1]\r\n", "[\r\n]", "[1\r\n,2]", "[", "]", "][", "",
        ]
        for _ in 0..<20_000 {
            let length = Int.random(in: 0..<12, using: &random)
            let middle = (0..<length).map { _ in alphabet.randomElement(using: &random)! }
            let text = Bool.random(using: &random) ? [0x5B] + middle + [0x5D] : middle
            cases.append(String(decoding: text, as: UTF8.self))
        }
        for text in cases {
            let expected = SideTableReader.categoryListThroughFoundation(text)
            #expect(SideTableReader.parseCategoryList(text) == expected, "\(text.debugDescription)")
            var copy = text
            #expect(copy.withUTF8 { SideTableReader.asciiCategoryList($0) } == expected, "\(text.debugDescription)")
        }
        // Not ASCII: the Foundation path (a no-break space is trimmed like a space).
        #expect(SideTableReader.parseCategoryList("\u{00A0}[1, 2]") == [1, 2])
        var nonASCII = "[1,\u{00A0}2]"
        #expect(nonASCII.withUTF8 { SideTableReader.asciiCategoryList($0) } == nil)
    }
}
