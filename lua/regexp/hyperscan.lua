-- The same module as regexp/pcre (Haka's regexp API, backed by Hyperscan),
-- under the name of what implements it.
return require('regexp/pcre')
