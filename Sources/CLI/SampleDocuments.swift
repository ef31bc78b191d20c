/// The documents `kiln demo` summarizes: paragraphs of a few made-up reports, combined into
/// documents of different lengths.
enum SampleDocuments {
    static let paragraphs = [
        "The quarterly report shows revenue of 4.2 million euros, up 12 percent on the same quarter last year, driven by the new subscription tier. Costs rose 5 percent, mostly in support staff hired for the launch.",
        "The field study followed 340 households over eighteen months. Households that received the weekly text reminders cut their electricity use by 7.5 percent on average; the effect faded after the reminders stopped.",
        "The incident began at 09:14 when a configuration change disabled the cache for the search service. Latency rose from 120 to 900 milliseconds until the change was rolled back at 09:52. No data was lost.",
        "The council approved the new cycling plan by seven votes to two. It adds 14 kilometres of protected lanes by 2028 and moves 200 parking places from the old town to the station garage.",
        "The clinical trial enrolled 1,200 adults with mild hypertension. After twelve weeks the treatment group's systolic pressure fell by 9 mmHg against 3 mmHg for placebo; side effects were rare and mild.",
        "The migration moved 38 services from the data centre to the cloud region over six weekends. Two services needed a second attempt because of DNS caching; monthly hosting costs fell by a fifth.",
        "The museum's winter exhibition drew 58,000 visitors, its best season in a decade. School visits doubled after the education team added Saturday workshops and free transport for rural schools.",
    ]

    /// A long document of about `characters` characters (the sample paragraphs in numbered
    /// sections), longer than one request: summarized as a tree of child runs.
    static func long(characters: Int) -> String {
        var sections: [String] = []
        var size = 0
        var section = 0
        while size < characters {
            section += 1
            let body = (0..<5).map { paragraphs[(section + $0) % paragraphs.count] }.joined(separator: " ")
            let text = "Section \(section). \(body)"
            sections.append(text)
            size += text.count + 2
        }
        return sections.joined(separator: "\n\n")
    }

    /// Document `index`: 1 to 24 paragraphs, starting at a different report each time.
    static func document(_ index: Int) -> String {
        let count = 1 + (index * 7) % 24
        return (0..<count).map { paragraphs[(index + $0) % paragraphs.count] }.joined(separator: "\n\n")
    }
}
