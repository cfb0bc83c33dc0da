"""The built-in escalation rules as data: trigger patterns and idioms per category.

Every pattern is written against the normal form of ``detect._Words``: lower case,
apostrophes dropped, fillers removed, words joined by single spaces. ``detect`` compiles
them as whole-word patterns, and also accepts the dropped-g form of every word written
here with ``ing`` ("burnin", "comin"), so the tables spell each verb once.

Rules speak for families of phrasing (synonyms, inflections, colloquial and STT forms),
not for single sentences; an idiom cancels an overlapping trigger of its category.
"""

from __future__ import annotations

from dataclasses import dataclass

from frontdesk.profile.policy import Category

__all__ = ["IDIOMS", "RULES", "RuleSpec"]


@dataclass(frozen=True)
class RuleSpec:
    name: str
    pattern: str
    confidence: float
    negatable: bool


def _rule(name: str, pattern: str, confidence: float = 0.95, *,
          negatable: bool = True) -> RuleSpec:
    return RuleSpec(name, pattern, confidence, negatable)


# shared fragments of the normal form
_I_WILL = (r"(?:ill|i will|i shall|im (?:going to|gonna|about to|coming to)|"
           r"i am (?:going to|gonna|about to|coming to)|i(?:m| am) gonna|id|i would|"
           r"i want to|i wanna|i could|ima|imma|im gonna|"
           r"(?:i|im|i am) (?:fixing to|finna|bout to|gon)|i might(?: just)?|i may|"
           r"i swear(?: to god)?(?: i(?:ll| will)?)?|(?:ill|i will|im gonna) (?:just|really))")
_PEOPLE = (r"(?:you|ya|u|him|her|them|yall|you all|you guys|you people|one of (?:you|yall|"
           r"your \w+|them)|(?:that|the|your|yalls) (?:\w+ ){0,2}(?:lady|dude|girl|guy|"
           r"writer|advisor|woman|man|receptionist|mechanic|owner|manager|boss|clerk|tech)|"
           r"that (?:guy|man|woman|mechanic|owner)|your (?:\w+ )?"
           r"(?:mechanic|mechanics|owner|boss|manager|staff|employees|family|guys|people|"
           r"tech|techs|kids)|the (?:mechanic|mechanics|owner|manager|guy|tech|staff)|"
           r"everyone|everybody|somebody|someone|anyone|anybody|whoever|all of you|each of you|"
           r"(?:the|that|this|your|a) (?:next |little |old )?(?:person|kid|guy|girl|lady|"
           r"woman|man|receptionist|clerk|worker|employee|tech|mechanic|owner|manager|boss))")
_SELF = r"(?:myself|my self|my own life|me)"
# someone who can be hurt, as callers name them
_PERSON = (r"(?:he|she|hes|shes|they|theyre|someone|somebody|guy|man|lady|woman|kid|child|"
           r"customer|mom|dad|mother|father|wife|husband|son|daughter|grandma|grandpa|baby|"
           r"worker|mechanic|tech|friend|buddy|passenger|boyfriend|girlfriend|brother|sister|"
           r"person)")

RULES: dict[Category, tuple[RuleSpec, ...]] = {
    "emergency": (
        _rule("emergency.breathing", r"(?:cant|can not|cannot|couldnt|can barely|struggling "
              r"to|trouble|hard time|having a hard time|stopped|not|isnt|aint) (?:\w+ )?"
              r"(?:breathe|breathing|catch (?:his|her|my|their) breath)|short of breath|"
              r"gasping|(?:hes|shes|he is|she is|lips|face|skin|baby|babys|kid) (?:\w+ )?"
              r"(?:turning|turned|going) (?:blue|purple|gray|grey)|"
              r"(?:throat|tongue|face) (?:is )?(?:swelling|swollen|closing)|"
              r"(?:anaphyla\w*|allergic reaction|epi ?pen)", negatable=False),
        _rule("emergency.medical", rf"(?:clutching|grabbing|holding) (?:his|her|my|their) "
              r"(?:chest|heart)|chest (?:pain|pains|hurts|is hurting|tightness)|"
              r"having (?:a|an) (?:stroke|seizure|heart attack|diabetic)|"
              r"(?:seizing|convulsing|foaming at the mouth|out cold|knocked out|"
              r"unresponsive|not responsive|lost consciousness|losing consciousness|"
              r"passing out|blacking out|fainting)|(?:wont|cant|can not|cannot) "
              r"(?:wake (?:him|her|them)(?: up)?|get (?:him|her|them) to wake)|"
              rf"{_PERSON}(?: is| are| s)? (?:\w+ )?(?:wont|isnt|not|aint|stopped|is not) "
              r"(?:moving|responding(?! to (?:my|the|our|any) (?:emails?|texts?|messages?|"
              r"calls?))|answering me|breathing|waking up|waking|conscious|awake)|"
              r"(?:hit|banged|bumped|cracked|split) (?:his|her|their) head|"
              r"(?:lot|lots|pool|puddle|ton) of blood|blood (?:everywhere|all over|gushing|"
              r"pouring|spurting)|bleeding (?:bad|badly|a lot|heavily|everywhere|out)|"
              r"(?:water|waters) (?:just )?broke|(?:shes|she is|wife|girlfriend|im|i am|"
              r"daughter|sister)(?: is)? (?:going |gone |went )?(?:in|into) labor|"
              r"contractions|(?:baby is|babys) coming", negatable=False),
        _rule("emergency.person_down", rf"{_PERSON}(?: is)? (?:just )?"
              r"(?:fell(?! (?:asleep|behind|in love|for|through|apart|out of))|collapsed|"
              r"slipped (?:and|on)|fainted|keeled over|passed out|is down)"),
        _rule("emergency.blaze", r"(?:blaze|ablaze|engulfed|inferno|flames? (?:are |is )?"
              r"(?:coming|shooting|everywhere|spreading)|(?:started|starting|broke out|"
              r"theres) (?:a )?fire|(?:a|the) fire (?:at|on|under|out|next|started|broke)|"
              r"(?:car|truck|engine|hood|building|shop|garage|house|bay|van|dash|dashboard|"
              r"trailer|motor|office|lobby|kitchen) (?:\w+ )?(?:is |s |its |are )?"
              r"(?:burning|on fire|in flames))"),
        _rule("emergency.fumes", r"(?:hissing|hiss) (?:\w+ ){0,5}(?:gas|propane)|"
              r"gas (?:line|main|pipe|meter) (?:\w+ ){0,3}(?:hissing|leaking|broke|busted|"
              r"cracked|ruptured)|(?:breathing|breathed|overcome by|full of|choking on|"
              r"sick from) (?:the )?(?:\w+ )?fumes|fumes (?:are )?(?:making|everywhere|"
              r"filling|pouring|coming)|(?:full of|filled with|filling with|thick|heavy) "
              r"(?:\w+ ){0,2}smoke|smoke (?:is |s )?(?:drifting|billowing|rolling|blowing) "
              r"(?:in|into|through|out)"),
        _rule("emergency.burning", r"(?:smell|smells|smelling) (?:\w+ ){0,2}burning "
              r"(?:plastic|wires?|wiring|electrical|insulation)|(?:car|truck|engine|hood|"
              r"dash|dashboard|van|it)(?: is| s)? smoking (?:real |really |so |very )?(?:bad|"
              r"badly|a lot)(?! (?:\w+ ){0,2}(?:exhaust|tailpipe|tail pipe|when i start))"),
        _rule("emergency.smoke_thick", r"smoke (?:is |s )?(?:so |real |really |too )?"
              r"(?:thick|heavy|bad) (?:i|we|you|nobody|no one) (?:cant|can not|cannot|couldnt) "
              r"(?:see|breathe)|(?:cant|can not|cannot|couldnt) (?:see|breathe) (?:\w+ )?"
              r"(?:for|through|because of|with all) (?:the |this |that )?smoke"),
        _rule("emergency.collision", r"(?:just|i|we|he|she|they|somebody|someone) (?:just )?"
              r"(?:ran|slammed|smashed|plowed|crashed|drove|spun|flipped) (?:\w+ )?"
              r"(?:into|off) (?:a|the|another|some|my|your|yalls|their|y alls) (?:\w+ ){0,3}"
              r"(?:pole|tree|wall|guardrail|car|truck|building|ditch|barrier|pedestrian|person|"
              r"kid|median|sign|bus|fence|house|road|embankment|window|lobby|bridge)"
              r"(?! (?:\w+ )?(?:last|a few|two|three|back|yesterday))|"
              r"(?:hit|struck|ran over) (?:a|some|that|this) (?:kid|child|person|pedestrian|"
              r"man|woman|guy|lady|biker|cyclist)|"
              rf"{_PERSON} (?:just )?(?:got|was) (?:hit|struck|run over) by (?:a|an|some) "
              r"(?:car|truck|van|bus)(?! (?:\w+ )?(?:last|a few|two|three|back|yesterday))"),
        _rule("emergency.poison", r"(?:swallowed|ingested|drank some|drank the|drinking the) "
              r"(?:\w+ ){0,2}(?:antifreeze|coolant|battery acid|gasoline|bleach|poison|"
              r"chemicals|brake fluid|washer fluid|windshield fluid)|"
              r"(?:poisoned|poisoning|overdosed)|(?:stuck|stalled|stopped|trapped) on the "
              r"(?:railroad |train )?tracks|(?:on top of|fell on|landed on|rolled onto|came "
              r"down on) (?:a|the|some|my|his|her|our|that) (?:\w+ )?(?:guy|man|person|kid|"
              r"worker|mechanic|tech|lady|woman|leg|arm|chest|son|dad|husband|friend|buddy)|"
              r"(?:on top of|fell on|landed on) (?:him|her|someone|somebody|them)"),
        _rule("emergency.trapped", r"(?:car|truck|van|suv|vehicle|it) (?:\w+ )?"
              r"(?:flipped(?= *$| (?:over|and|on|into|in|off|upside|twice|several))|"
              r"rolled over(?! (?:\w+ )?(?:\d+|hundred|thousand|miles|k)))|"
              r"(?:people|someone|somebody|kids?|a (?:kid|baby|child|person)) (?:are |is )?"
              r"(?:trapped|stuck inside|still (?:inside|in (?:it|there)))|"
              rf"{_PERSON} (?:is |are |got |was |been |gets |just got )?(?:\w+ )?"
              r"(?:pinned|crushed)|(?:hand|arm|leg|foot|fingers?|head|chest) (?:is |are |got |"
              r"was |just got )?(?:pinned|crushed)|"
              r"(?:acid|chemicals?|battery acid|antifreeze|coolant|brake fluid|gasoline|"
              r"bleach) (?:\w+ ){0,2}(?:in|on|into) (?:my|his|her|their|the kids|the baby) "
              r"(?:eyes?|face|skin|mouth)"),
        _rule("emergency.danger", r"(?:call|calling|dial|dialing|dialed) (?:9 1 1|911|nine "
              r"eleven|nine one one)|(?:life|lives) (?:is |are )?(?:in danger|at risk)|life "
              r"or death|(?:hes|shes|theyre|he is|she is|they are|someone is|somebody is) "
              r"(?:dying|gonna die|going to die)|electrocuted|electrical shock|live wire|"
              r"(?:kid|baby|child|son|daughter|dog|puppy|someone|somebody|he|she|im|i am|we "
              r"are|grandma|grandpa|mom|dad)(?: is| are| s)? (?:\w+ )?(?:trapped|locked|stuck) "
              r"(?:\w+ )?in (?:a|the|my|his|her|their) (?:hot )?(?:car|truck|van|trunk)|"
              r"(?:please help|help help|help please)$"),
        _rule("emergency.fire", r"(?:on fire|caught fire|catching fire|catch fire|"
              r"in flames|flames|burning up|is burning|fire in|fire (?:is )?spreading)"),
        _rule("emergency.smoke", r"smoke (?:(?:is )?(?:coming|pouring|everywhere|filling|"
              r"in the cabin|inside)|from (?:under )?the (?:hood|dash|dashboard|engine))|"
              r"(?:full of|filling with|filled with) smoke|smoking (?:under|from) the hood|"
              r"smoke (?:in|inside|filling) (?:the|my|your|our) (?:lobby|room|building|shop|"
              r"garage|cabin|car|office|house|waiting room|bay)"),
        _rule("emergency.gas", r"(?:smell|smells|smelling) (?:\w+ ){0,2}(?:gas|gasoline|"
              r"fuel|propane)|gas leak|leaking gas|(?:gas|gasoline|fuel) (?:is )?(?:gushing|"
              r"pouring|spraying|spilling) (?:out|everywhere|all over)|carbon monoxide|"
              r"fumes (?:in|inside)|"
              r"(?:think|sure|smells like) (?:its|it is|theres|there is) (?:a )?gas|"
              r"(?:co|carbon monoxide|smoke|gas) (?:detector|alarm) (?:\w+ )?(?:went off|"
              r"is going off|going off|beeping)"),
        _rule("emergency.symptoms", r"(?:getting|feel|feeling|felt|are|is|seems?|looks?) "
              r"(?:\w+ ){0,2}(?:confused|dizzy|faint|lightheaded|light headed|sleepy and|"
              r"throwing up|vomiting)|(?:splitting|terrible|bad) headaches?|"
              r"(?:cant|can barely|cannot) (?:move|feel) (?:my|his|her)|"
              r"(?:lying|laying) (?:in the road|on the ground|on the floor)|"
              r"(?:not|isnt|hes not|shes not) (?:moving|getting up|responding|waking up)",
              0.9, negatable=False),
        _rule("emergency.injury", r"(?:(?:got|is|was|been|are|badly|seriously|really|"
              r"\w+s) (?:hurt|injured)|bleeding|unconscious|not breathing|cant breathe|"
              r"(?:passed|blacked) out|collapsed|heart attack|stroke|seizure|fainted|"
              r"broke (?:his|her|my|their) (?:arm|leg|wrist|neck|back)|(?:arm|leg|wrist|neck|"
              r"ribs?|back|ankle)s? (?:is|are|s) broken|broken (?:arm|leg|neck|ribs?)|"
              r"(?:burned|burnt|scalded|crushed|pinned|cut) (?:a |his |her |my |their |"
              r"someones? )?(?:\w+ )?(?:face|arms?|hands?|eyes?|skin|legs?|fingers?|head|chest|"
              r"foot|feet)|"
              r"(?:crushed|pinned|trapped|stuck) (?:under|underneath|in|inside)|"
              r"came down on|chest pains?|(?:bad|serious|really bad) burns? on|"
              r"(?:got|is|are|was|been|getting) (?:badly |really )?(?:crushed|burned|burnt|"
              r"electrocuted|stabbed|scalded|run over)|screaming in pain|"
              r"(?:he|she|someone|somebody|guy|man|mechanic|worker|kid|child) "
              r"(?:just )?fell (?:off|from|down)|im hurt)"),
        _rule("emergency.crash", r"(?:just|been|was|were) (?:in|had) (?:an|a) "
              r"(?:accident|crash|wreck|collision)(?! (?:last|a few|two|three|back))|"
              r"(?:just )?(?:crashed|got hit|hit by a car|ran over|rear ended|t boned|spun out|"
              r"hit a (?:pole|tree|wall|guardrail|barrier|car|pedestrian))"
              r"(?! (?:last|a few|on my))"),
        _rule("emergency.call_911", r"(?:call|calling|called|get|send) (?:an |the )?"
              r"(?:9 ?1 ?1|911|nine one one|ambulance|paramedics|fire department|"
              r"fire truck)|ambulance|paramedics?"),
        _rule("emergency.word", r"(?:emergency|urgent help|help me (?:please|now)|"
              r"somebody help|someone help|in danger|danger)", 0.85),
        _rule("emergency.explosion", r"(?:exploded|explosion|blew up|sparks (?:are )?"
              r"(?:everywhere|flying|coming))"),
    ),
    "threat": (
        _rule("threat.harm_more", rf"{_I_WILL} (?:\w+ ){{0,4}}(?:break|bust|beat up|rough "
              r"up|mess up|jack up|lay out|run down|pound|whoop|whup|strangle|drown|merk|murk|"
              rf"gut|put (?:my )?hands on|lay (?:my )?hands on) (?:\w+ )?{_PEOPLE}"
              r"(?! (?:a|an|some|off|the news|know))|"
              rf"(?:{_I_WILL}|im|i am|ill be|i will be) (?:\w+ ){{0,2}}(?:killing|hurting|"
              r"shooting|stabbing|beating|breaking|busting|choking|smacking|punching|"
              rf"whooping|running over) (?:\w+ )?(?:{_PEOPLE}(?! (?:a|an|some|off|up))|"
              r"(?:his|her|their|your) (?:\w+ )?(?:face|jaw|head|neck|legs?|arms?|nose|"
              r"teeth|skull|ass))|"
              rf"run (?:{_PEOPLE}) (?:\w+ ){{0,2}}over(?! (?:the|a|my|some|what|there|here|"
              rf"to))|run over (?:{_PEOPLE})"),
        _rule("threat.harm_idiom", r"(?:catch|catching|gonna catch|get) (?:these|the|my) "
              r"hands|catch (?:a|these) (?:beating|bullet|fade)|(?:kick|kicking|whoop|"
              r"whooping|beat|beating|bust|busting) (?:your|his|her|their|that|some|yalls) "
              r"(?:\w+ )?(?:ass|butt|teeth|face|head(?! gasket)|skull)|(?:put|send|sending|"
              r"putting) (?:\w+ ){0,3}(?:in|into|to) (?:the|a) (?:hospital|er|emergency room|"
              r"morgue|grave|body bag|wheelchair)|(?:pay|paying) (?:for (?:this|that) )?"
              r"(?:in|with) (?:blood|your life|their life)|(?:somebody|someone|people|yall|"
              r"one of you|you all|you guys|you people|everybody|everyone)s?"
              r"(?: \w+){0,3} (?:is |are |s |will |ll )?(?:gonna|going to|gon|will) (?:get|"
              r"be) (?:\w+ )?(?:hurt|killed|shot|stabbed)|(?:better|should|might (?:wanna|"
              r"want to)|gonna want to) (?:\w+ )?lock (?:your|yalls) doors|"
              r"(?:better )?(?:hope|pray) (?:that )?i (?:dont|never) (?:find|see|catch|run into|"
              r"meet)|(?:look|looking|watch|watching) over your shoulder|(?:wont|will not) "
              r"know what hit|(?:youve|you have|yall have|youre|you are|consider (?:this|"
              r"yourself|yourselves)) (?:been )?warned|(?:this is|thats) (?:a|your|my) "
              r"(?:\w+ )?warning(?! (?:light|lamp|sign|indicator|message|chime|sound))|"
              r"or else$|(?:wait|waiting|be waiting) (?:for|on) (?:you|him|her|them|yall|"
              r"your \w+|the (?:owner|manager|mechanic|tech|guy|writer|boss)|that (?:\w+ )?"
              r"(?:guy|lady|mechanic|owner|manager)) (?:\w+ ){0,2}(?:outside|out front|out "
              r"back|in the (?:parking )?lot|after (?:work|closing|you close|he gets off|she "
              r"gets off|hours)|tonight|by (?:your|his|her) (?:car|truck|house))"),
        _rule("threat.come_there", rf"{_I_WILL} (?:\w+ ){{0,2}}(?:come|coming|be|get|drive|"
              r"roll|run|go|walk) (?:down |up |over |out |back )?(?:there|over|by|in there|up "
              r"in there) (?:and|to) (?:\w+ ){0,2}(?:whoop|beat|hurt|kill|shoot|stab|"
              r"smash|wreck|bust|torch|teach (?:you|yall|them|him|her) a lesson|"
              r"put (?:my )?hands on|get (?:physical|violent|ugly))|"
              r"(?:dont|do not) make me (?:come|drive|go) (?:down|up|over) there|"
              r"(?:dont|do not) make me (?:do something|hurt|use|get (?:ugly|violent|"
              r"physical))|(?:things|it|this)(?:s| is| are)? (?:gonna|going to|about to) get "
              r"(?:ugly|violent|physical|bloody)|(?:afraid|scared|hesitate|hesitating) to "
              r"use (?:it|them|this|my (?:gun|piece|knife|bat|fists|hands))"
              r"(?= *$| on (?:you|him|her|them|yall|somebody|anybody|someone|anyone))|"
              r"(?:wait|waiting|be waiting|sit|sitting) (?:outside|out front|out back|in the "
              r"(?:parking )?lot|by (?:his|her|their|your) (?:car|truck)) (?:\w+ ){0,3}"
              r"(?:till|until|til|for) (?:he|she|they|him|her|them|your \w+|the \w+|that \w+) "
              r"(?:\w+ )?(?:gets off|get off|leaves|comes out|come out|walks out|goes home|"
              r"is alone)"),
        _rule("threat.pursue", rf"make (?:{_PEOPLE}) (?:suffer|bleed)|hunt(?:ing)? (?:down )?"
              rf"(?:{_PEOPLE})(?! (?:a|an|the|some|for))|(?:run|ram|ramming|plow|crash|"
              r"smash) (?:\w+ ){0,3}(?:through|into) (?:your|yalls|the|that) (?:\w+ )?"
              r"(?:window|windows|door|doors|wall|building|lobby|storefront|office|front)"
              r"(?! (?:\w+ )?(?:for|to get|tomorrow|today|this))"),
        _rule("threat.visit", r"pay (?:you|yall|him|her|them|your \w+|the \w+|that \w+) "
              r"a (?:little )?visit(?= *$| tonight| after (?:dark|hours|you close)| at "
              r"(?:your|his|her|their) (?:house|home|place))|pay (?:you|yall|him|her|them|"
              r"your \w+|the \w+) a little visit"),
        _rule("threat.weapon_more", r"(?:bring|bringing|brought|grab|grabbing|got|get|"
              r"getting|have|carrying|packing) (?:my |a |the |me a )?(?:gun|guns|strap|glock|"
              r"rifle|shotgun|pistol|machete|knife)(?! (?:rack|safe|mount|holster|show|range|"
              r"to (?:you|yall) for|for (?:a|an|repair|service|the)|fixed|looked))|"
              r"(?:coming|come|show up|showing up|be there|roll up|rolling up|pull up|pulling "
              r"up|walk in|walking in|be over) (?:\w+ ){0,3}(?:with|w) (?:a|my|the|some) "
              r"(?:\w+ )?(?:crowbar|bat|gun|knife|hammer|tire iron|machete|weapon|pipe|rifle|"
              r"shotgun|pistol|glock|strap)|(?:strapped|packing heat)$"),
        _rule("threat.damage", rf"{_I_WILL} (?:\w+ ){{0,3}}(?:take out|taking out|tear up|"
              r"tearing up|bust up|busting up|smash up|shoot up|shooting up|spray paint|"
              r"total|key|slash|torch|burn down|wreck|break|bust|smash|shatter) (?:\w+ ){0,2}"
              r"(?:every|all|each|"
              r"your|yalls|the|that|this|his|their) (?:\w+ ){0,3}(?:car|cars|truck|trucks|"
              r"lot|window|windows|shop|place|garage|building|office|door|doors|sign|tires)|"
              rf"{_I_WILL} (?:\w+ ){{0,2}}(?:set|light) (?:your|yalls|the|that|this|his|their|"
              r"it) (?:\w+ ){0,2}on fire|"
              r"(?:burn|burning|torch|torching) (?:it|this|that|the|your|yalls|his|their) "
              r"(?:\w+ ){0,2}(?:down|to the ground)"),
        _rule("threat.harm_person", rf"{_I_WILL} (?:\w+ ){{0,2}}(?:kill|hurt|shoot|stab|"
              rf"beat|punch|strangle|choke|murder|smack|slap|hit|knock|jump|wreck|end|find|"
              rf"rearrange|come for|go after) (?:\w+ )?{_PEOPLE}"),
        _rule("threat.harm_things", rf"{_I_WILL} (?:\w+ ){{0,3}}(?:smash|slash|torch|burn|"
              r"trash|wreck|destroy|vandalize|key|put a (?:brick|rock|bullet)|light|set fire to|"
              r"drive (?:\w+ ){0,3}(?:through|into)|blow up) (?:\w+ ){0,2}"
              r"(?:your|the|that|this|every|all|his|their)"),
        _rule("threat.weapon", r"(?:(?:bring|bringing|got|have|grab|grabbing|get|getting)"
              r" (?:my |a )(?:gun|knife|rifle|shotgun|pistol|bat|weapon|piece))|"
              r"(?:gun|knife|bat) (?:with me|on me|in my (?:car|truck|hand))|(?:coming|come|"
              r"show up|"
              r"showing up|be there) (?:\w+ ){0,2}(?:with|w) (?:a|my|the) (?:crowbar|bat|"
              r"baseball bat|gun|knife|hammer|tire iron|machete|weapon|pipe|rifle|shotgun)"),
        _rule("threat.property", r"(?:burn|torch|smash|trash|wreck|blow up|bomb) "
              r"(?:down )?(?:your|the|this|that) (?:\w+ )?(?:shop|place|garage|store|"
              r"building|windows|business|office)(?: down)?|"
              r"(?:burn|torch) (?:it|the place|your place) (?:down|to the ground)"),
        _rule("threat.menace", r"(?:watch (?:your|his|her|their|yalls) backs?|"
              r"know where (?:you|he|she|they|the "
              r"owner|your \w+) (?:live|lives|work|works|sleep)|(?:youre|you are|your) "
              r"(?:dead|a dead man|gonna die|going to die)|(?:you|youll|you will|youre|you are|"
              r"yall|yall are|"
              r"you guys are|you people are) (?:gonna |going to )?"
              r"(?:regret|be sorry)(?! (?:for|about) (?:the|my|your) (?:wait|delay|bill))|"
              r"(?:someone|somebody|you)(?:s| is| will|ll)? "
              r"(?:gonna |going to )?(?:get|be) (?:hurt|killed)|"
              r"(?:ill|i will|im gonna|im going to) (?:come|be) (?:down )?"
              r"(?:there|over|by) (?:and|with)(?! (?:my|the|a|an|our|your) (?:\w+ )?(?:car|truck|"
              r"van|"
              r"vehicle|keys|wife|husband|kids?|son|daughter|paperwork|receipt|invoice|title|"
              r"friend|buddy|dog|check|cash|card|registration)| (?:drop|pick|get|grab|bring|"
              r"pay|look|see|sign|check|show|leave|fill|take|talk|settle|discuss|handle|sort|"
              r"work|chat|meet|wait|explain|figure))|teach (?:you|him|them) a lesson|"
              r"make (?:you|him|them) (?:pay|suffer|bleed)|break (?:your|his|her|their) (?:\w+ )?"
              r"(?:neck|legs|face|jaw|nose|arms)|"
              r"(?:wait|see) (?:until|till|til) i (?:get|see) (?:there|you)|"
              r"(?:beat|kick|punch|knock) (?:\w+ ){0,3}out of (?:you|him|them|your|the)|"
              r"(?:end up|wind up|put (?:you|him|them)|land (?:you|him|them)) in "
              r"(?:the hospital|a hospital|the er|a body bag)|be waiting (?:for you|for him|"
              r"by your|outside|at your)|make sure (?:your|the|that) (?:\w+ )?(?:shop|place|"
              r"garage|building) (?:burns|blows up|gets)|"
              r"(?:shoot|shooting) (?:up )?(?:the|your|this) (?:place|shop)|"
              r"(?:threat|threatening) (?:you|him|them)|a dead man|(?:you|you people|you guys|"
              r"youre|yall) (?:are |r )?(?:going to|gonna|will) pay for (?:this|that)|"
              r"youll pay for (?:this|that)|(?:teeth|head|heads|face|skull|kneecaps) "
              r"(?:\w+ )?(?:knocked|kicked|bashed|smashed|caved) (?:in|out)|"
              r"better (?:hide|run|watch out|"
              r"sleep with)|one eye open|blood (?:on the|everywhere|will be|spilled)|"
              r"(?:watch|see) what happens (?:to|when)|(?:see|find out) how tough|"
              r"messed with the wrong|coming (?:for|after) (?:you|him|them|your)|"
              r"(?:hope|wish) (?:your|the|that) (?:\w+ )?(?:building|shop|place|garage) "
              r"(?:burns|blows up|burn)|(?:blow|burn) (?:that|the|your|this) "
              r"(?:\w+ )?(?:shop|place|garage|building) (?:up|down))"),
    ),
    "self_harm": (
        _rule("self_harm.method", r"(?:jump|jumping|throw myself|throwing myself) (?:off|"
              r"into|in front of|from) (?:a|the|some|that) (?:\w+ ){0,2}(?:bridge|roof|"
              r"building|cliff|river|lake|overpass|train|traffic|truck|bus|tracks|ledge)|"
              r"(?:walk|walking|step|stepping) (?:in front of (?:a|the|some) (?:\w+ )?(?:train|"
              r"truck|bus|car)|into traffic)|(?:drive|driving|drove) (?:\w+ )?off (?:a|the|"
              r"some|that) (?:\w+ ){0,2}(?:bridge|cliff|overpass|roof|ledge)|"
              r"(?:take|taking|took|swallow|swallowing|swallowed) (?:all|every one|(?:a|the) "
              r"(?:whole |entire |full )?(?:bunch|bottle|handful|pack|box)) (?:of )?"
              r"(?:my |the |these |those |some )?(?:\w+ )?(?:pills|meds|medication|medicine)|"
              r"(?:blow|blew|blowing) my (?:own )?(?:brains|head) out|(?:bullet|gun|pistol) "
              r"(?:in|to|into) my (?:head|mouth|brain)|(?:hang|hanging|hung) myself|noose|"
              r"(?:slit|slice|slash|cut) my (?:wrists?|throat)|(?:off|offing) myself|"
              r"(?:goodbye|suicide) (?:letters?|notes?)|(?:saying|said|say) goodbye to "
              r"(?:everyone|everybody|my (?:kids|family|wife|husband|children))|"
              r"(?:giving|gave) away (?:all )?my (?:stuff|things)|(?:gun|pills|rope|knife|"
              r"razor|blade) (?:\w+ ){0,3}(?:on|for) myself|(?:use|turn) (?:it|them|this|that|"
              r"the gun|a gun) on myself|rope (?:around|for) my neck|"
              r"(?:im|i am) (?:so )?done with (?:life|living|everything|it all|this world|"
              r"being alive)(?! (?:on|for|you|at|here|in|the))", negatable=False),
        _rule("self_harm.no_future", r"better off (?:if i (?:was|were|wasnt|werent|was not|"
              r"were not) (?:\w+ ){0,2}(?:here|around|alive|gone|dead)|if i (?:died|was dead|"
              r"were dead|was gone|were gone|disappeared)|without me|with me gone|if im gone|"
              r"when im gone)|"
              r"(?:no|any|a|the|dont see a|dont see any|cant see a|cant find a|lost (?:my|"
              r"the)|aint no|nothing to) (?:\w+ )?(?:reason|point|will) (?:for me )?(?:to|in|"
              r"for) (?:keep |keeping |go |going )?(?:live|living|on living|going on|keep going|"
              r"be here|being here|exist|existing|go on|carry on|be alive|being alive)"
              r"(?! (?:a|an|the|my|your|with|to|about|at|for|that|this|it|vacation|trips?))|"
              r"(?:whats|what is) the point (?:of|in) (?:living|going on|life|being alive|"
              r"anything anymore)|(?:tired|sick) of (?:living|being alive|life)|"
              r"want (?:it|everything) all to (?:end|stop)|want (?:my life|everything) to end|"
              r"(?:not|dont|do not|no longer) (?:\w+ ){0,2}(?:plan|planning|intend|"
              r"expect|expecting) (?:on |to )?(?:be|being) (?:here|around|alive) (?:\w+ )?"
              r"(?:much longer|for long|anymore|no more)|"
              r"(?:if i|i) (?:wasnt|werent|was not|wont be|will not be|aint gonna be) (?:\w+ )?"
              r"(?:here|around|alive)(?: (?:no more|anymore|much longer))?(?= *$| anyway| for "
              r"(?:anyone|anybody|my)| no more| anymore| much longer)|"
              r"(?:thinking|thought|think) (?:about|of) (?:(?:killing|hurting|harming) myself|"
              r"suicide|dying|ending (?:it|my life|things)(?= *$| all| for good| tonight))|"
              r"(?:wish|wished) i (?:was|were|had) (?:never been born|dead|gone|not born)|"
              r"(?:disappear|go to sleep) and never (?:wake up|come back)",
              negatable=False),
        _rule("self_harm.kill_self", r"(?:kill|killing|hurt|hurting|harm|harming|cut|"
              r"cutting|end|ending|take|taking) (?:myself|my self|my own life|my life)|"
              r"end it all|ending it all|suicid\w*|(?:slit|cut) my wrists?|"
              r"overdose|(?:jump|drive|driving|jumping) (?:off|into) (?:a|the) (?:bridge|roof|"
              r"building|cliff|river|lake|overpass)|take (?:them|the pills|these pills|"
              r"all (?:the|my|these|of the) pills) all|(?:have|got) the pills|"
              r"end it (?:all|tonight|today|now|for good)|(?:going|want) to end it(?! with)|"
              r"(?:gonna|wanna|about "
              r"to|ready to) end it(?= *$| all| tonight| today| now| for good)|(?:im|i am) "
              r"(?:so )?done living"),
        _rule("self_harm.not_live", r"(?:dont|do not|no longer) (?:think i )?(?:want|wanna) "
              r"(?:to )?"
              r"(?:live|be alive|be here|wake up|exist|go on)|"
              r"(?:want|wanna|wish i (?:was|were|could)) (?:to )?(?:die|be dead|"
              r"disappear forever)|better off (?:dead|without me)|(?:no|nothing to) "
              r"(?:reason|point) (?:to|in) (?:live|living|going on)|"
              r"(?:life|living) (?:is|isnt) (?:not )?worth (?:it|living)|"
              r"cant (?:go on|do this anymore|take it anymore)(?! (?:with|without))|"
              r"(?:see|have) (?:no|a|any) (?:reason|point) (?:to|in) (?:keep|keeping) going|"
              r"never wake up|(?:go to sleep|fall asleep) and not wake up|(?:nobody|"
              r"no one) would (?:\w+ )?(?:notice|care|miss me)|"
              r"(?:if|when) (?:i|im) (?:was |were )?(?:gone|dead)",
              0.95, negatable=False),
    ),
    "legal": (
        _rule("legal.counsel", r"(?:solicitor|solicitors|counsel|legal aid|"
              r"legal advice|lawyering up|lawyered up|lawyer up|lawyerd up|"
              r"litigating|litigate|arbitration|arbitrate|arbitrator|mediation|magistrate|"
              r"tribunal|claims court|legal (?:matter|claim|case|fees|recourse|remedy|route|"
              r"action|rights)|(?:my|our) (?:legal|consumer) rights|violat\w* my rights|"
              r"(?:attorney generals?|ag|ags|consumer affairs|consumer protection|licensing "
              r"board|bbb|better business bureau) (?:office|complaint|agency|division|board)|"
              r"(?:complaint|report|claim|grievance) (?:with|to|against) (?:the )?(?:\w+ ){0,3}"
              r"(?:state(?! farm)|attorney general|ag|bbb|better business bureau|consumer|"
              r"department of licensing|licensing|commission|regulators?|dmv|board|"
              r"ftc|feds|police|county|city)|(?:turn|turning|report|reporting|rat) (?:you|"
              r"yall|this|your \w+|it|the \w+|this \w+) (?:in )?to (?:the )?(?:police|state|"
              r"authorities|attorney general|ag|consumer|department|board|feds|ftc|cops|"
              r"county|city)|(?:take|taking|drag|dragging|sue|suing) (?:\w+ ){0,2}to "
              r"(?:small claims|claims court)|fraudulent|(?:committing|commit|consumer) fraud|"
              r"restitution|affidavit|deposition|testify|(?:let|have) (?:the|a) (?:court|"
              r"courts|judge|jury) (?:decide|sort|settle|handle))"),
        _rule("legal.served", r"(?:get|gets|getting|be|been|being|gonna get|will get) "
              r"served(?= *$| (?:papers|with|a summons|notice|by (?:my|our|a|the) \w+|soon|"
              r"real soon|shortly|any day))|(?:serve|serving) (?:you|yall|the shop|your \w+) "
              r"(?:with )?(?:papers|a summons|notice)|(?:legal|court) papers"),
        _rule("legal.sue", r"(?:sue|suing|sued|lawsuit|law suit|class action|"
              r"litigation|litigate)"),
        _rule("legal.lawyer", r"(?:lawyer|lawyers|attorney|attorneys|legal counsel|"
              r"law firm|law office|my counsel|legal (?:team|department|representation)|"
              r"on behalf of (?:our|my|a) client|our client)"),
        _rule("legal.court", r"(?:small claims|(?:take|taking|see|drag|dragging) "
              r"(?:you|ya|this|your \w+|the \w+|it) (?:to|in) court|court case|"
              r"(?:to|in|into) (?:\w+ ){0,2}court(?! (?:reporter|parking|house|clerk|date|"
              r"appearance|hearing))|court (?:case|order|filing)|judge|served (?:with )?"
              r"(?:papers|a summons)|summons)"),
        _rule("legal.action", r"(?:legal action|legal (?:steps|proceedings)|legally "
              r"(?:responsible|liable)|liable|liability|negligence|negligent|"
              r"breach of contract|cease and desist|demand letter|subpoena|"
              r"lemon law|consumer protection|attorney general|"
              r"better business bureau|bbb|report(?:ing)? (?:you|this|your \w+|it) "
              r"to (?:the )?(?:police|state|authorities|licensing|dmv|bureau)|"
              r"file (?:a )?(?:formal )?(?:complaint|report) (?:with|against)|"
              r"(?:this is|thats|its) (?:fraud|illegal|theft)|(?:call|calling) "
              r"the (?:cops|police) on|press(?:ing)? charges|deceptive (?:trade )?practices?|"
              r"(?:pursue|pursuing|seek|seeking|claim|claiming|sue for|for) damages|"
              r"(?:in|file|filing) (?:the |a )?suit|named in)"),
    ),
    "abuse": (
        _rule("abuse.insult_more", r"(?:dumber|stupider|slower|thicker|dimmer|more useless) "
              r"than (?:a|my|dirt|rocks|a box|a bag)|(?:youre|you are|ur|yall are|yall|you "
              r"guys are|you people are|yall is) (?:\w+ )?(?:the )?(?:worst|dumbest|stupidest|"
              r"most useless|most incompetent|sorriest)|(?:bite|kiss|suck) (?:me|my \w+)$|"
              r"kiss my (?:ass|butt)|eat (?:shit|dirt)|piss off|get bent|drop dead|screw off|"
              r"go (?:fuck|screw) yourself|you suck|yall suck|(?:dumb|stupid|lazy|useless|"
              r"worthless|ignorant|incompetent) (?:bitch|fuck|fucks|bastards|bunch)"),
        _rule("abuse.profanity_at", r"(?:fuck|screw|f) (?:you|u|off|yourself|this "
              r"(?:bot|robot|machine|thing|shop))|(?:go to hell|shut up|shut the \w+ up)|"
              r"(?:you|ya|u) (?:fucking|fuckin|stupid|dumb|useless|worthless|pathetic|"
              r"brainless|incompetent|lazy) ?\w*|(?:fucking|fuckin|stupid|dumb|useless|"
              r"worthless|pathetic|brainless|incompetent) (?:robot|bot|machine|computer|"
              r"bitch|idiot|moron|thing|piece|people|excuse)|"
              r"(?:son of a bitch|bitch|asshole|bastard|dickhead|dumbass|jackass|"
              r"motherfucker|cunt|twat|retard|retarded)|shut your (?:mouth|trap|face|pie hole)|"
              r"(?:so|freaking|frigging|fucking|effing|f ing|damn|any more|completely|totally)"
              r" (?:dumb|stupid|useless|incompetent|worthless|pathetic|brain dead)|"
              r"(?:smarter|dumber|more useful|better) (?:\w+ ){0,2}than you|"
              r"waste of (?:space|air|electricity|oxygen)|brain ?dead|ugly"),
        _rule("abuse.harassment", r"(?:sexy|hot|cute) (?:voice|thing)|you sound (?:so )?"
              r"(?:hot|sexy|cute)|talk dirty|what are you wearing|(?:hey|hi|hello) (?:there )?"
              r"(?:baby|sweetheart|sweetie|honey|sugar|babe|cutie)|send (?:me )?"
              r"(?:nudes|pics)|(?:date|sleep|hook up) with me"),
        _rule("abuse.insult", r"(?:youre|you are|your|ur|youre such|you are such|what|you) "
              r"(?:\w+ ){0,3}(?:an? )?(?:idiot|moron|imbecile|stupid|dumb|useless|"
              r"worthless|pathetic|incompetent|joke|loser|garbage|trash|clown|dumbest|"
              r"stupidest|brain ?dead|piece of (?:shit|crap|garbage|junk|trash))|"
              r"(?:are you|you) (?:\w+ )?(?:deaf|stupid|dumb|an idiot|retarded|brain ?dead|"
              r"brain ?damaged|slow|mental)"
              ),
        _rule("abuse.name_calling", r"(?:idiot|moron|imbecile|dumbass|jackass|clown)s?",
              negatable=False),
    ),
    "dispute": (
        _rule("dispute.unasked", r"(?:parts?|work|services?|repairs?|stuff|things?|"
              r"charges?|labor|fluids?|fees?|\w+s) (?:that )?(?:i|we) (?:never|didnt|did not) "
              r"(?:\w+ )?(?:ask|asked|approve|approved|authorize|authorized|want|wanted|order|"
              r"ordered|need|needed|agree|agreed|request|requested|okay|okayed)"
              r"(?! (?:\w+ )?(?:yet|before|to pay|about))", 0.9, negatable=False),
        _rule("dispute.billing_mismatch", r"(?:charged|billed|rung up|rang up|ring me up|"
              r"charging|billing|paid|paying|pay|bill says|invoice says|invoice has) (?:me )?"
              r"(?:\w+ ){0,4}(?:for|on it)? ?(?:\w+ ){0,5}(?:and|but) (?:\w+ ){0,4}(?:only "
              r"(?:one|two|three|half|1|2|3|some)|(?:the )?same old|still the old|(?:never|"
              r"didnt|did not|wasnt|werent) (?:\w+ )?(?:did|done|do|replaced|changed|"
              r"installed|put|touched))|(?:old|original|same) (?:\w+ ){0,2}(?:s |is |was |are "
              r"|were |ones |one is |ones are )?still (?:in|on) (?:there|it|the car|my car)|"
              r"(?:theyre|its|they are|thats|those are|these are) (?:the )?(?:same|original) "
              r"(?:old )?(?:ones|one|parts|tires|blades|filter|battery|pads)|"
              r"(?:quote|quoted|estimate|estimated|price|said it would be|supposed to be|told "
              r"me it) (?:\w+ ){0,6}(?:and|but) (?:now|then) (?:\w+ ){0,4}(?:\d+|hundred|"
              r"dollars|bucks|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|more|"
              r"double|twice)|(?:got|getting|get|was) (?:rung|rang) up|"
              r"(?:why|how come) (?:\w+ ){0,4}(?:charged|billed|charging|billing|paying|"
              r"rung up|rang up)|(?:why|how come) (?:is|was|are|were) (?:that|this|a|an|the|"
              r"there) (?:\w+ ){0,3}on my (?:bill|invoice|statement|receipt|card|ticket)|"
              r"(?:never|didnt|did not) (?:say|said) (?:yes|ok|okay) to|"
              r"(?:never|didnt|did not) (?:agree|agreed|okay|okayed|ok|sign|signed) "
              r"(?:to|for|off)|(?:you|yall|they|you guys|the shop|your \w+) (?:never|didnt|"
              r"did not) (?:\w+ )?(?:did|do|done|perform|performed|replace|replaced|change|"
              r"changed|install|installed|rotate|rotated|align|aligned) (?:one|any|an|a|those|"
              r"these|it)(?! (?:before|yet|last))|(?:took|take|takes|was) (?:\w+ ){0,3}"
              r"(?:minutes|an hour|half an hour) (?:but|and) (?:\w+ ){0,4}(?:charged|billed|"
              r"charging|billing|hours)|(?:when|but) it (?:only )?took (?:\w+ ){0,3}(?:minutes|"
              r"an hour)|(?:without|before) (?:even )?(?:calling|asking|telling|checking with|"
              r"consulting|getting) (?:me|my ok|my okay|my approval|my permission)",
              0.9, negatable=False),
        _rule("dispute.overcharge", r"(?:overcharged|over charged|overcharging|"
              r"overbilled|over billed|(?:charged|billed) (?:me )?(?:twice|double|two times)"
              r"|double (?:charged|billed)|(?:charged|billed|charging|billing) me (?:\w+ )?"
              r"(?:more|extra)|more than (?:\w+ ){0,4}(?:quote|quoted|estimate|estimated|"
              r"said|told)|(?:wrong|incorrect) (?:charge|amount|bill|invoice|total|price)|"
              r"(?:bill|invoice|charge|total|price) (?:is|was) (?:\w+ )?(?:wrong|incorrect|"
              r"too high|way higher|higher than)|ripped (?:me )?off|rip ?off|scam|"
              r"hidden (?:fee|fees|charges)|dispute|disputing|contest|chargeback|"
              r"charge back|(?:two|2|three|multiple|duplicate|double) charges|"
              r"(?:hit|charged|billed) (?:\w+ ){0,5}(?:twice|three times|two times|"
              r"multiple times)|(?:charged|billed) (?:me )?for (?:\w+ ){1,4}(?:and|but) "
              r"(?:you |they )?(?:put|used|installed|gave)|(?:and|but) i (?:only )?"
              r"(?:got|had|needed|asked for) (?:\w+ )?(?:one|two|three|half)|"
              r"(?:not|isnt) the price (?:we|i|you) agreed)", 0.9),
        _rule("dispute.expectation", r"(?:quote|quoted|estimate|estimated|told|said|"
              r"supposed to|agreed|website|advertised|included)(?: \w+){0,12} "
              r"(?:billed|charged|bill says|invoice says|receipt|came to|came out to|"
              r"totally different|charging)", 0.9),
        _rule("dispute.said_otherwise", r"(?:invoice|bill|receipt|statement|total) "
              r"(?:says|said|shows|is|was|came to) (?:\w+ ){0,6}(?:but|and) (?:you|they|"
              r"the \w+|your \w+) (?:\w+ )?(?:told|said|quoted)|(?:charge|charged|charging|"
              r"billed|billing|paid|pay|paying) (?:\w+ ){0,8}(?:never|not|wasnt|werent) "
              r"(?:even )?(?:done|installed|performed|replaced|fixed|changed)", 0.9,
              negatable=False),
        _rule("dispute.warranty", r"warranty (?:\w+ ){0,12}(?:honor|cover|covers|covered|"
              r"refus\w*|paying|pay for|charge\w*|doesnt|wont|isnt)|(?:honor|honour) "
              r"(?:the |my |your )?warranty", 0.9, negatable=False),
        _rule("dispute.unauthorized", r"(?:didnt|did not|never|dont|do not) (?:\w+ )?"
              r"(?:authorize|authorise|authorized|authorised|approve|approved|agree to|ask for|"
              r"asked for|"
              r"okay|ok|sign off on|want) (?:that|this|the|any|those|these|all)|"
              r"(?:unauthorized|unauthorised|without (?:my )?(?:permission|approval|"
              r"consent|asking|calling))|(?:didnt|did not|never) (?:\w+ )?"
              r"(?:do|fix|replace|change|install|touch) (?:the|that|it|anything|them|what)|"
              r"(?:still|again) (?:\w+ )?the same (?:\w+ )?(?:noise|sound|problem|issue|thing|leak|"
              r"light|way)|(?:still|again) (?:broken|not (?:fixed|working)|doing the same|"
              r"making the same|has the same)|(?:same|exact) (?:problem|issue|noise) "
              r"(?:is )?(?:back|again|came back)|(?:not|never|wont|refuse to|im not) "
              r"(?:paying|pay) (?:for )?(?:that|this|it|the|a)|"
              r"(?:charge|charged|charging|billed|billing|charges) (?:me )?(?:\w+ ){0,8}"
              r"(?:i|we|my car|you|they) (?:didnt|never|did not|declined|refused|wasnt|was not)"
              r"(?! (?:\w+ )?(?:charge|charged|bill|billed))|"
              r"(?:nobody|no one|never|didnt|did not) (?:\w+ ){0,2}(?:called|asked|"
              r"told) me (?:\w+ ){0,2}(?:approve|about|first|before)|(?:nobody|no one) "
              r"(?:mentioned|told me about|approved)|i never said (?:you|they) could|"
              r"(?:only|never) approved|with no (?:phone )?call|sign(?:ed)? off on|"
              r"(?:said|told (?:you|them)) i (?:didnt|did not|dont) want|(?:old|original) "
              r"(?:\w+ )?(?:is|was|are|were) still (?:in|on) there|(?:paid|already paid) "
              r"(?:\w+ ){0,4}(?:and|but) (?:now )?(?:you|they) (?:sent|billed|charged)",
              0.9, negatable=False),
    ),
    "refund": (
        _rule("refund.back", r"(?:every|each) (?:single )?(?:dime|penny|cent|dollar) "
              r"(?:\w+ ){0,3}back|"
              r"(?:want|need|expect|get|give|gimme|demand|asking for) (?:\w+ ){0,5}"
              r"(?:money|dollars|bucks|payment|deposit|charge|cash|cents|dime|penny|it all) "
              r"(?:\w+ ){0,2}(?:returned|refunded|reversed|credited|back)|"
              r"(?:refund|reimburse|pay back|credit) (?:me|us|my card|the card)|"
              r"(?:returned|refunded|credited|put back) (?:to|on) (?:me|my card|my account)"),
        _rule("refund.refund", r"(?:refund|refunds|refunded|refunding|reimburse|"
              r"reimbursed|reimbursement|money back|my money|(?:deposit|payment) back|"
              r"(?:reverse|reversed) (?:the |that |this )?(?:charge|payment)|"
              r"(?:pay|paying|give|giving) me back|credit (?:my card|me) back|"
              r"return (?:my|the) (?:money|payment|deposit)|(?:want|get|give|send|expect|"
              r"asking for|need) (?:\w+ ){0,4}(?:money|dollars|bucks|penny|cash|payment|"
              r"deposit) back|(?:money|payment|deposit|cash) (?:returned|refunded)|"
              r"check for what i paid|pay me back)", 0.9),
        _rule("refund.not_refunded", r"(?:never|didnt|did not|havent|have not|still "
              r"(?:havent|have not|dont|do not)|not yet|hasnt) (?:\w+ ){0,2}"
              r"(?:refund|refunded|reimbursed|my money)", 0.9, negatable=False),
    ),
    "human": (
        _rule("human.ask_for", r"(?:is|are) (?:the )?(?:owner|manager|boss|supervisor|"
              r"service (?:writer|advisor|manager)|someone|somebody|anybody|anyone) "
              r"(?:\w+ )?(?:there|in|around|available)(?! (?:to (?:look|fix|check|see|do)|"
              r"on (?:saturday|sunday|weekends?)|at \w+))|"
              r"(?:is there|do you have|got) (?:a|an|the) (?:supervisor|manager|owner|human|"
              r"real person|live person|boss) (?:i|we) can|"
              r"(?:put|get) (?:\w+ ){0,4}on the (?:phone|line)|"
              r"(?:patch|put) me (?:through|in)|(?:i|me|my call|this call|can i|could i) "
              r"(?:\w+ )?(?:get|be|being) (?:transferred|connected|forwarded)|"
              r"(?:forward|redirect) (?:me|my call|this call)|"
              r"(?:somebody|someone|anybody|anyone|a person) (?:who|that) (?:aint|isnt|is "
              r"not|is|actually|really) (?:\w+ )?(?:a robot|a machine|a bot|a computer|"
              r"works there|real|human|a human|alive)|"
              r"(?:rather|prefer to|like to|want to|need to|wanna|let me|have to) (?:speak|"
              r"talk) (?:to|with) (?:\w+ ){0,4}(?:guys|someone|somebody|person|people|guy|"
              r"mechanics|techs|folks|staff|crew)|^(?:\w+ )?agent(?: agent)+|"
              r"(?:front office|front desk|service desk|service writer|service advisor|"
              r"office) (?:please|now)$"),
        _rule("human.person", r"(?:speak|talk|talking|speaking|chat) (?:to|with) "
              r"(?:whoever\w*|(?:\w+ ){0,3}(?:human|person|people|manager|owner|"
              r"supervisor|someone|somebody|representative|rep|agent|operator|staff|employee|"
              r"mechanic|"
              r"technician|boss|advisor|adviser|receptionist|guy|lady|woman|man|"
              r"anybody|anyone|manger))|(?:real|actual|live|human) (?:person|human|being|"
              r"people|agent|voice)|(?:a|real|actual|live|to a|with a|some) human(?! (?:error|"
              r"nature|resources))|human (?:please|being|now|agent)|^(?:\w+ )?human$|"
              r"a person i mean|(?:someone|somebody|anyone|anybody|a person|a human) "
              r"(?:i|we) can (?:\w+ )?(?:talk|speak) (?:to|with)"),
        _rule("human.transfer", r"(?:transfer|connect) (?:me|my call|this call)|put (?:me|"
              r"my call|this call) (?:through|over|to (?:a|the|your|someone|somebody)|on with)|"
              r"put (?:\w+ ){0,2}(?:manager|owner|someone|somebody|person|human) on|"
              r"(?:get|give|have) (?:me )?(?:a |an |the |your |some )?(?:real |actual |live )?"
              r"(?:manager|manger|owner|person|human|supervisor|representative|boss)"
              r"(?! (?:to (?:look|check|fix|call|see|do)|name|s name))|"
              r"(?:get|give) me (?:someone|somebody|a person|anyone) (?:who|that) (?:\w+ )?"
              r"(?:works|is real|is human|knows what)|"
              r"(?:represent(?:ative|atives| tative| ative)|operator|(?:an|a|live|human|real|"
              r"talk to|speak to|speak with|talk with) agent|agent (?:please|now)|"
              r"^(?:\w+ )?agent$)|"
              r"(?:is|are) (?:there )?(?:anyone|anybody|someone|somebody|a human|a person) "
              r"(?:\w+ )?(?:there|real|else|home)|(?:are you|is this) (?:a |an |just a )?"
              r"(?:robot|bot|machine|computer|ai|real|recording)"),
        _rule("human.no_robot", r"(?:dont|do not|not) (?:want|wanna) (?:to )?(?:talk|"
              r"speak) (?:to|with) (?:a |an |the )?(?:robot|bot|machine|computer|ai)",
              0.95, negatable=False),
    ),
}

# idioms that cancel an overlapping trigger of their category
IDIOMS: dict[Category, tuple[str, ...]] = {
    "emergency": (
        r"(?:emergency|parking) (?:brake|brakes|flashers|lights?|kit|blinkers|"
        r"exit|service|repair|roadside|number|contact|fund)",
        r"not (?:an |a real )?emergency|no emergency|in case of (?:an )?emergency",
        r"smoke (?:test|detector|alarm|shop|break)|blue smoke|white smoke|"
        r"smoke from (?:the )?exhaust",
        r"smoke (?:\w+ ){0,4}(?:exhaust|tailpipe|tail pipe|muffler)|(?:exhaust|tailpipe|"
        r"tail pipe|muffler) (?:is |s )?(?:blowing|puffing|putting out|smoking)"
        r"(?:(?: \w+){0,2} smoke)?",
        # an injury followed by a reassurance ("I burned my hand but I'm fine now")
        r"(?:burned|burnt|cut|hurt|hit|banged|bumped|scraped|fell|slipped|injured)(?: \w+){0,8}"
        r" (?:but|and|so) (?:im|hes|shes|were|theyre|everyone|everybody|we|he|she|i|they)"
        r"(?: is| are| am| s)?(?: totally| all| just| completely)? (?:fine|ok|okay|alright|"
        r"all right|good|not hurt)",
        # a car part, not a person, got crushed or burned
        r"(?:hose|line|pipe|wires?|cable|tube|box|can|bumper|fender|panel|part|clip|bracket|"
        r"filter|seal|gasket|muffler|exhaust|rim|wheel|pan|tank|grill|grille|mirror|door|"
        r"hood|roof|trunk|bag|package|connector|plug|fuse|belt) (?:\w+ )?(?:is |was |got |"
        r"are |were |s )?(?:crushed|pinned|burned|burnt|bent|stuck)",
        # past illness, a machine that doesn't respond, a bill that hits
        r"(?:had|has had|survived|recovering from|recovered from) (?:a |his |her |my )?"
        r"(?:stroke|heart attack|seizure)(?:(?: \w+){0,4} (?:last|ago|back|years|months|"
        r"since))?(?! (?:right now|just now|now))",
        r"(?:car|truck|van|vehicle|steering|wheel|pedal|gear|shifter|engine|it|transmission|"
        r"windows?|seat|needle|gauge|screen|radio|app|website|phone|remote|fob|key|"
        r"touchscreen|system) (?:\w+ )?(?:is |s )?(?:not|isnt) (?:moving|responding)",
        r"hit with (?:a|an|the|another|this|that) (?:\w+ )?(?:flat|fee|charge|bill|ticket|"
        r"fine|surprise|rate|price|cost|recall)",
        r"(?:can|could|would|will) (?:somebody|someone|anybody|anyone) (?:please )?help "
        r"(?:me |us )?(?:with|figure|find|out|understand|book|schedule|pick|decide|choose|"
        r"get|look|set)",
        r"(?:keys?|phone|wallet|purse) (?:\w+ ){0,2}locked in",
        r"fire (?:extinguisher|alarm|hazard|sale)", r"danger zone",
        # a threat to set something on fire is a threat, not a fire
        r"(?:light|set|lit) (?:\w+ ){0,3}on fire",
        r"(?:burning|hot|weird|funny|strange) (?:smell|smells|oil|rubber|clutch)",
        r"burning (?:oil|rubber|clutch|coolant)", r"(?:heartburn|stroke of luck)",
        r"(?:wallet|budget|bank account) (?:is )?(?:bleeding|hurt|hurting)",
        r"(?:tires?|paint|engine|car|battery|brakes?|transmission) "
        r"(?:\w+ )?(?:got|is|was) (?:hurt|injured)",
        r"bleed\w* (?:\w+ )?(?:money|air|cash|me dry|the brakes|brakes|brake lines?|"
        r"the lines|coolant|oil)", r"(?:card|account|wallet) (?:got|was|gets) hit",
        r"(?:check|checking|test|testing|safe|worried about|inspect\w*) (?:\w+ ){0,3}"
        r"(?:for |with |from )?carbon monoxide",
        r"crashed (?:at|on) (?:my|his|her|our|their|a|the) (?:place|house|couch|apartment)",
        r"(?:computer|system|laptop|phone|website|site|server|app|program|software|screen|"
        r"tablet|browser|stock market|market) (?:\w+ )?(?:crashed|crashing|froze|died)",
        r"(?:\w+ )?(?:dead|died|faint|weak) (?:battery|signal)|(?:light|lights) (?:are |is )?"
        r"(?:getting )?(?:dim|faint)",
    ),
    "threat": (
        r"(?:kill|die|murder) for", r"killing (?:me|it|the)", r"kill (?:the )?(?:engine|"
        r"motor|ignition|time|switch)", r"dressed to kill", r"(?:shoot|shooting) (?:me|you"
        r"|us) (?:a |an )?(?:text|email|message|call|note|quote|line)",
        r"(?:beat|beats|beating) (?:\w+ )?(?:price|prices|quote|deal|traffic|rush|offer)",
        r"(?:hit|hitting) (?:you|him|them) up", r"knock (?:it|that) out",
        r"(?:end|ending) (?:of )?(?:you|the) (?:day|week|month)",
        r"hit (?:me|you) (?:back|up)",
        r"(?:lets|let us|well|we will|just|wait and) see what happens",
        r"gun (?:rack|safe|mount|holster|cabinet|range|show|store|shop)|(?:grease|glue|heat|"
        r"impact|air|nail|paint|spray|caulk|caulking|timing|staple) guns?",
    ),
    "self_harm": (
        r"kill myself laughing", r"(?:dying|die) (?:to|for|of (?:laughter|boredom))",
        r"to die for", r"cut (?:myself )?(?:a|some) (?:slack|deal|break)",
        r"take (?:my|the) (?:own )?(?:car|truck|keys)",
    ),
    "legal": (
        r"(?:lawyer|attorney)s? (?:friend|buddy|neighbor|colleague)|(?:friend|buddy|"
        r"neighbor|coworker|wife|husband|brother|sister|dad|mom|father|mother|son|daughter|"
        r"uncle|aunt|cousin|boss)s? (?:\w+ ){0,4}(?:lawyer|attorney|judge)"
        r"(?!(?: \w+){0,6} (?:handling|drafting|calling you|be in touch|sending|contact "
        r"you|letter|sue|suing|court|will|going to))",
        r"(?:lawyer|attorney)s? office (?:is )?(?:right )?(?:down the street|next door|"
        r"nearby|near|around the corner|across)", r"jury (?:duty|summons|service)",
        r"(?:im|i am|i work as|i used to be|my job is|works as|she is|hes|shes|he is) (?:a|an) "
        r"(?:\w+ )?(?:lawyer|attorney|paralegal|solicitor|judge|counsel|legal assistant|"
        r"law clerk|notary)",
        r"(?:calling|call|work|works|working) (?:from|at|for) (?:the|a|our) law "
        r"(?:firm|office)", r"(?:rating|rated|accredited|accreditation|reviews?) "
        r"(?:\w+ ){0,3}(?:better business bureau|bbb)|(?:better business bureau|bbb) "
        r"(?:rating|accredited|accreditation)",
        r"(?:food|tennis|basketball|traffic) court|court (?:date|appearance|hearing)|"
        r"(?:im|i am|ive|i have|i got|have to|got to|gotta|need to|i) (?:\w+ )?(?:go to|"
        r"be in|be at|in|at|going to|have) court|jury duty|(?:get|go|going|head|headed|"
        r"heading|run|drive|back from|coming from|leave for|leaving for) (?:\w+ )?to court "
        r"(?:for|by|at|this|in the|tomorrow|today|on)",
        r"street legal|legal (?:to|size|limit)",
        r"\bsue (?:there|around|working|in|available|said|told)|(?:ask|asking|for|is|"
        r"with|tell|talk to|speak to|spoke to|spoke with) sue(?! (?:you|ya|them|your))",
        r"judge (?:of|by)", r"(?:you be the|fair|good|poor|bad) judge",
    ),
    "abuse": (
        r"(?:im|i am|i feel|i was|i felt|im such|i am such|what) (?:\w+ )?(?:an |a |so )?"
        r"(?:idiot|moron|stupid|dumb)(?! (?:bot|robot|machine|computer|system|receptionist|"
        r"person|people|shop|place|answering))|(?:stupid|dumb) (?:question|me|of me|mistake)",
        r"(?:stupid|dumb|useless|worthless) (?:car|truck|light|engine|thing|battery|"
        r"sensor|noise|part|van)", r"shut (?:up|off) (?:the|my|your) engine",
        r"(?:car|truck|van|thing) (?:is|was) (?:\w+ )?(?:a )?(?:piece of|useless)",
        r"(?:its|it is|this is|thats) (?:so |just )?(?:stupid|dumb|ugly)",
    ),
    "dispute": (
        r"(?:what|how much) (?:\w+ )?(?:did|does|would|will) (?:\w+ ){0,3}(?:quote|cost)",
        r"within (?:the )?(?:quote|estimate)", r"(?:does|do|will|would|is|if) (?:\w+ ){0,2}"
        r"warranty (?:\w+ )?(?:cover|covers|include|includes|apply)",
        r"(?:other|last|previous|old|another|different|former) (?:shop|mechanic|garage|"
        r"dealer|dealership|place|guys?)(?: \w+){0,4}",
    ),
    "refund": (
        r"(?:refund|return|returns) (?:policy|policies)",
        r"(?:do|does|can|will|would) (?:you|ya|u|the shop) (?:guys )?(?:\w+ )?"
        r"(?:give|offer|do|provide|issue) (?:any )?refunds?",
        r"tax (?:refund|return)", r"(?:save|saving|spend|spending|worth) (?:\w+ )?my money",
        r"my money (?:is|was) (?:tight|on)",
        r"(?:will|would|do|can|could) (?:i|we) (?:\w+ )?get (?:\w+ ){0,3}back if",
        r"(?:do|does|will|would|can) (?:you|ya|u|they|yall|you all) (?:guys )?(?:\w+ ){0,3}refunds?"
        r"(?: \w+){0,5} if",
    ),
    "human": (
        r"human resources", r"(?:managers|owners) (?:special|specials|deal|pick)",
        r"(?:robot|machine) (?:wash|car wash)|car wash", r"(?:sales|insurance) "
        r"(?:agent|representative)", r"(?:tell|ask|let) (?:the )?(?:mechanic|technician)",
        r"(?:talk|speak|speaking|talking) (?:to|with) (?:the |a |your )?(?:mechanic|"
        r"technician|guy|man|lady|woman|tech)(?: \w+){0,5} (?:when|after|before|once) "
        r"(?:i|we) (?:\w+ )?(?:drop|pick|come|bring|get there|stop)",
        r"(?:someone|somebody|anyone|anybody) (?:\w+ )?(?:there|real|in) (?:to|who can|that "
        r"can|who could|that knows how to|who knows how to) (?:look|fix|check|see|do|work|"
        r"install|replace|change|rotate|align|take|help)",
        r"(?:im|i am) (?:a |an )?(?:real|actual|live) (?:person|human)",
        r"(?:youre|you are) (?:just )?(?:a |an )?(?:machine|robot|bot|computer)",
        r"(?:im|i am|i work as|works as) (?:an? )?(?:\w+ )?(?:operator|agent|"
        r"representative)", r"(?:insurance|real estate|travel|sales|state farm|allstate|"
        r"geico|progressive|leasing|rental) (?:agent|representative|rep|person)s?",
        r"human (?:error|nature|resources)",
    ),
}
