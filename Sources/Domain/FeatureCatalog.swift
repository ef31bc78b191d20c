/// The features a Kiln deployment knows, by name.
public struct FeatureCatalog: Sendable {
    private var features: [String: any Feature]

    public init(_ features: [any Feature]) {
        self.features = Dictionary(features.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
    }

    /// The features Kiln ships: `document_summary`.
    public static let builtIn = FeatureCatalog([DocumentSummary()])

    public var names: [String] { features.keys.sorted() }

    /// The feature called `name`, or an error listing the known ones.
    public func feature(named name: String) throws(KilnError) -> any Feature {
        guard let feature = features[name] else {
            throw KilnError(
                .unknownFeature,
                "unknown feature \"\(name.prefix(64))\"; known features: \(names.joined(separator: ", "))")
        }
        return feature
    }
}
