// kerec/sim/taxonomy.hpp — the word material of the synthetic marketplace.
//
// Departments hold head nouns (substitute groups: "chips", "salsa") with alternative surface
// words (plural, singular, synonyms: "chip", "crisps") and the qualifiers that specialise them
// ("tortilla chips"). kCuratedComplements are head-level complementary relations that hold in the
// real world (chips -> salsa); the generator adds random ones on top. Pure data, no logic.
#pragma once

#include <array>
#include <string_view>

namespace kerec::sim::detail {

struct HeadSpec {
    std::string_view name;                     // canonical head noun as it appears in names
    std::array<std::string_view, 3> variants;  // alternative words for the same head ("" = none)
};

struct DepartmentSpec {
    std::string_view name;
    std::array<HeadSpec, 12> heads;            // name "" = unused slot
    std::array<std::string_view, 20> qualifiers;
};

// clang-format off
inline constexpr std::array<DepartmentSpec, 10> kDepartments{{
    {"snacks",
     {{{"chips", {"chip", "crisps", ""}}, {"salsa", {"salsas", "", ""}}, {"dip", {"dips", "", ""}},
       {"pretzels", {"pretzel", "", ""}}, {"popcorn", {"pop corn", "", ""}}, {"crackers", {"cracker", "", ""}},
       {"nuts", {"nut", "", ""}}, {"cookies", {"cookie", "biscuits", ""}}, {"trail mix", {"trail mixes", "", ""}},
       {"candy", {"candies", "sweets", ""}}, {"guacamole", {"guac", "", ""}}, {"", {}}}},
     {"tortilla", "potato", "corn", "kettle", "barbecue", "cheddar", "jalapeno", "sea salt", "honey roasted",
      "peanut", "almond", "chocolate", "caramel", "salted", "pita", "rice", "veggie", "multigrain", "cinnamon", "smoky"}},
    {"beverages",
     {{{"coffee", {"coffees", "", ""}}, {"tea", {"teas", "", ""}}, {"soda", {"sodas", "pop", ""}},
       {"juice", {"juices", "", ""}}, {"sparkling water", {"seltzer", "", ""}}, {"beer", {"beers", "ale", ""}},
       {"wine", {"wines", "", ""}}, {"energy drink", {"energy drinks", "", ""}}, {"creamer", {"creamers", "", ""}},
       {"coffee filters", {"coffee filter", "", ""}}, {"", {}}, {"", {}}}},
     {"espresso", "decaf", "green", "black", "herbal", "orange", "apple", "cranberry", "lemon", "lime", "cola",
      "ginger", "mango", "cherry", "vanilla", "hazelnut", "red", "white", "iced", "dark roast"}},
    {"dairy",
     {{{"milk", {"milks", "", ""}}, {"cheese", {"cheeses", "", ""}}, {"yogurt", {"yoghurt", "yogurts", ""}},
       {"butter", {"butters", "", ""}}, {"eggs", {"egg", "", ""}}, {"ice cream", {"ice creams", "gelato", ""}},
       {"whipped cream", {"whipping cream", "", ""}}, {"parmesan", {"parmigiano", "", ""}}, {"", {}}, {"", {}},
       {"", {}}, {"", {}}}},
     {"whole", "skim", "oat", "soy", "goat", "swiss", "mozzarella", "greek", "strawberry", "unsalted", "free range",
      "brown", "cage free", "cookie dough", "mint", "lactose free", "aged", "shredded", "sliced", "cultured"}},
    {"bakery",
     {{{"bread", {"breads", "loaf", ""}}, {"bagels", {"bagel", "", ""}}, {"tortillas", {"wraps", "tortilla wraps", ""}},
       {"buns", {"bun", "rolls", ""}}, {"muffins", {"muffin", "", ""}}, {"cones", {"cone", "wafer cones", ""}},
       {"croissants", {"croissant", "", ""}}, {"", {}}, {"", {}}, {"", {}}, {"", {}}, {"", {}}}},
     {"sourdough", "whole wheat", "rye", "brioche", "hamburger", "hot dog", "flour", "blueberry", "sesame",
      "everything", "cinnamon raisin", "ciabatta", "waffle", "sugar", "butter", "english", "potato bread", "garlic",
      "pumpernickel", "spelt"}},
    {"pantry",
     {{{"pasta", {"pastas", "noodles", ""}}, {"pasta sauce", {"marinara", "pasta sauces", ""}},
       {"rice", {"rices", "", ""}}, {"cereal", {"cereals", "", ""}}, {"peanut butter", {"nut butter", "", ""}},
       {"jelly", {"jam", "jellies", ""}}, {"syrup", {"syrups", "", ""}}, {"pancake mix", {"pancake mixes", "", ""}},
       {"flour", {"flours", "", ""}}, {"cake mix", {"cake mixes", "", ""}}, {"frosting", {"icing", "", ""}},
       {"honey", {"honeys", "", ""}}}},
     {"spaghetti", "penne", "basmati", "jasmine", "whole grain", "maple", "grape", "creamy", "crunchy", "bran",
      "honey nut", "buttermilk", "tomato basil", "four cheese", "arrabbiata", "all purpose", "devil's food",
      "funfetti", "wildflower", "raspberry"}},
    {"household",
     {{{"detergent", {"detergents", "laundry soap", ""}}, {"fabric softener", {"softener", "", ""}},
       {"paper towels", {"paper towel", "kitchen roll", ""}}, {"trash bags", {"garbage bags", "bin bags", ""}},
       {"dish soap", {"dishwashing liquid", "", ""}}, {"sponges", {"sponge", "", ""}},
       {"batteries", {"battery", "", ""}}, {"light bulbs", {"bulbs", "", ""}},
       {"aluminum foil", {"tin foil", "foil", ""}}, {"napkins", {"napkin", "serviettes", ""}},
       {"paper plates", {"plates", "", ""}}, {"", {}}}},
     {"lavender", "unscented", "heavy duty", "citrus", "eucalyptus", "mountain", "ocean breeze", "aa", "aaa", "led",
      "compostable", "recycled", "biodegradable", "scrub", "jumbo", "kitchen", "outdoor", "rechargeable", "dinner",
      "cocktail"}},
    {"personal care",
     {{{"toothpaste", {"tooth paste", "", ""}}, {"toothbrush", {"toothbrushes", "tooth brush", ""}},
       {"shampoo", {"shampoos", "", ""}}, {"conditioner", {"conditioners", "", ""}},
       {"razor", {"razors", "", ""}}, {"shaving cream", {"shave gel", "shaving foam", ""}},
       {"deodorant", {"deodorants", "", ""}}, {"body wash", {"shower gel", "", ""}},
       {"lotion", {"lotions", "moisturizer", ""}}, {"sunscreen", {"sun cream", "sunblock", ""}},
       {"floss", {"dental floss", "", ""}}, {"", {}}}},
     {"whitening", "sensitive", "charcoal", "argan", "coconut", "tea tree", "aloe", "volumizing", "electric",
      "bamboo", "cucumber", "shea", "spf 50", "sport", "peppermint", "clarifying", "moisturizing", "travel",
      "kids", "waxed"}},
    {"electronics",
     {{{"phone", {"phones", "smartphone", ""}}, {"phone case", {"phone cover", "", ""}},
       {"charger", {"chargers", "charging cable", ""}}, {"headphones", {"earphones", "headset", ""}},
       {"laptop", {"laptops", "notebook", ""}}, {"mouse", {"mice", "", ""}}, {"keyboard", {"keyboards", "", ""}},
       {"printer", {"printers", "", ""}}, {"ink cartridge", {"ink", "toner", ""}},
       {"memory card", {"sd card", "", ""}}, {"camera", {"cameras", "", ""}},
       {"screen protector", {"screen guard", "", ""}}}},
     {"wireless", "bluetooth", "gaming", "usb c", "compact", "4k", "android", "noise cancelling", "ergonomic",
      "mechanical", "color laser", "inkjet", "action", "mirrorless", "rugged", "slim", "64gb", "waterproof",
      "foldable", "tempered glass"}},
    {"produce",
     {{{"bananas", {"banana", "", ""}}, {"avocados", {"avocado", "", ""}}, {"tomatoes", {"tomato", "", ""}},
       {"lettuce", {"lettuces", "", ""}}, {"lemons", {"lemon", "", ""}}, {"onions", {"onion", "", ""}},
       {"potatoes", {"potato", "", ""}}, {"strawberries", {"strawberry", "", ""}}, {"cilantro", {"coriander", "", ""}},
       {"limes", {"lime", "", ""}}, {"", {}}, {"", {}}}},
     {"hass", "roma", "cherry", "iceberg", "romaine", "meyer", "vidalia", "red", "yellow", "russet", "sweet",
      "baby", "heirloom", "key", "plantain", "vine", "fingerling", "butter", "shallot", "persian"}},
    {"meat",
     {{{"ground beef", {"minced beef", "beef mince", ""}}, {"hot dogs", {"hot dog", "frankfurters", ""}},
       {"chicken breast", {"chicken breasts", "", ""}}, {"bacon", {"bacons", "", ""}},
       {"sausages", {"sausage", "", ""}}, {"steak", {"steaks", "", ""}},
       {"burger patties", {"patties", "burgers", ""}}, {"", {}}, {"", {}}, {"", {}}, {"", {}}, {"", {}}}},
     {"lean", "grass fed", "angus", "smoked", "thick cut", "turkey", "pork", "beef", "italian", "bratwurst",
      "ribeye", "sirloin", "boneless", "skinless", "maple glazed", "chorizo", "wagyu", "spicy italian", "breakfast",
      "all natural"}},
}};
// clang-format on

struct CuratedComplement {
    std::string_view from, to;
    float strength;
};

/// Head-level complements that hold in the real world ("is `to` a complement of `from`?").
inline constexpr std::array<CuratedComplement, 58> kCuratedComplements{{
    {"chips", "salsa", 1.0f}, {"chips", "dip", 0.9f}, {"chips", "guacamole", 0.85f}, {"salsa", "chips", 0.95f},
    {"guacamole", "chips", 0.9f}, {"dip", "chips", 0.85f}, {"dip", "crackers", 0.6f}, {"tortillas", "salsa", 0.7f},
    {"tortillas", "ground beef", 0.6f}, {"avocados", "limes", 0.5f}, {"avocados", "cilantro", 0.45f},
    {"pasta", "pasta sauce", 1.0f}, {"pasta", "parmesan", 0.8f}, {"pasta sauce", "pasta", 0.95f},
    {"cereal", "milk", 1.0f}, {"coffee", "creamer", 0.9f}, {"coffee", "coffee filters", 0.75f},
    {"coffee", "milk", 0.6f}, {"tea", "honey", 0.7f}, {"tea", "lemons", 0.5f}, {"bread", "butter", 0.8f},
    {"bread", "jelly", 0.6f}, {"bread", "peanut butter", 0.65f}, {"peanut butter", "jelly", 0.9f},
    {"jelly", "peanut butter", 0.85f}, {"bagels", "butter", 0.5f}, {"buns", "burger patties", 0.9f},
    {"buns", "hot dogs", 0.85f}, {"hot dogs", "buns", 0.95f}, {"burger patties", "buns", 0.95f},
    {"ground beef", "tortillas", 0.5f}, {"crackers", "cheese", 0.8f}, {"wine", "cheese", 0.75f},
    {"beer", "pretzels", 0.55f}, {"beer", "chips", 0.6f}, {"pancake mix", "syrup", 0.95f}, {"pancake mix", "eggs", 0.6f},
    {"cake mix", "frosting", 0.9f}, {"cake mix", "eggs", 0.7f}, {"ice cream", "cones", 0.85f},
    {"ice cream", "whipped cream", 0.5f}, {"bacon", "eggs", 0.8f}, {"steak", "potatoes", 0.5f},
    {"toothbrush", "toothpaste", 1.0f}, {"toothpaste", "toothbrush", 0.8f}, {"toothpaste", "floss", 0.5f},
    {"shampoo", "conditioner", 0.95f}, {"razor", "shaving cream", 0.95f}, {"detergent", "fabric softener", 0.85f},
    {"paper plates", "napkins", 0.8f}, {"phone", "phone case", 1.0f}, {"phone", "charger", 0.9f},
    {"phone", "screen protector", 0.85f}, {"laptop", "mouse", 0.8f}, {"printer", "ink cartridge", 1.0f},
    {"camera", "memory card", 0.95f}, {"strawberries", "whipped cream", 0.6f}, {"lettuce", "tomatoes", 0.55f},
}};

/// Words that decorate titles. None of them occurs in an entity name.
inline constexpr std::array<std::string_view, 24> kModifiers{
    "Organic", "Classic", "Original", "Premium", "Family Size", "Value Pack", "Select", "Everyday", "Deluxe",
    "Gourmet", "Signature", "Homestyle", "Artisan", "Light", "Extra", "New", "Natural", "Ultra", "Simply",
    "Farmhouse", "Traditional", "Authentic", "Supreme", "Choice"};

inline constexpr std::array<std::string_view, 24> kBrandOnsets{
    "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "cr", "gl", "pl", "st",
    "tr", "sh", "qu"};
inline constexpr std::array<std::string_view, 14> kBrandVowels{"a", "e", "i", "o", "u", "ai", "ou", "ea", "é",
                                                                "ö", "á", "ü", "io", "ia"};  // accented: [8, 12)
static_assert(kBrandVowels[8] == "é" && kBrandVowels[11] == "ü");
inline constexpr std::array<std::string_view, 12> kBrandCodas{"", "n", "r", "l", "x", "s", "nd", "rt", "ll",
                                                               "m", "ñ", "ck"};

}  // namespace kerec::sim::detail
