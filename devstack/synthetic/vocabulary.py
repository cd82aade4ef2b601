"""Built-in words the generator draws from: names, organisations, template topics and texts."""

from __future__ import annotations

FIRST_NAMES: tuple[tuple[str, str], ...] = (
    ("Anna", "anna"), ("Zoë", "zoe"), ("José", "jose"), ("Åsa", "asa"), ("Liam", "liam"),
    ("Olivia", "olivia"), ("Noah", "noah"), ("Emma", "emma"), ("Mohammed", "mohammed"),
    ("Fatima", "fatima"), ("Wei", "wei"), ("Yuki", "yuki"), ("Priya", "priya"),
    ("Arjun", "arjun"), ("Chloé", "chloe"), ("Björn", "bjorn"), ("Søren", "soren"),
    ("Łukasz", "lukasz"), ("Małgorzata", "malgorzata"), ("François", "francois"),
    ("Núria", "nuria"), ("Siobhán", "siobhan"), ("Oğuz", "oguz"), ("Dmitri", "dmitri"),
    ("Ana", "ana"), ("Kwame", "kwame"), ("Aisha", "aisha"), ("Hiroshi", "hiroshi"),
    ("Mei", "mei"), ("Thị", "thi"), ("Lucas", "lucas"), ("Sofia", "sofia"),
    ("Mateo", "mateo"), ("Isabella", "isabella"), ("Ethan", "ethan"), ("Mia", "mia"),
    ("James", "james"), ("Grace", "grace"), ("Omar", "omar"), ("Leila", "leila"),
    ("Jan", "jan"), ("Eva", "eva"), ("Raúl", "raul"), ("Inés", "ines"), ("Jürgen", "jurgen"),
    ("Renée", "renee"), ("Tomás", "tomas"), ("Ngozi", "ngozi"), ("Sipho", "sipho"),
    ("Ravi", "ravi"), ("Sanjana", "sanjana"), ("Minh", "minh"), ("Hana", "hana"),
    ("Ji-woo", "jiwoo"), ("Seo-yeon", "seoyeon"), ("Carlos", "carlos"), ("Julia", "julia"),
    ("Peter", "peter"), ("Sarah", "sarah"), ("David", "david"), ("Laura", "laura"),
    ("Mary-Kate", "marykate"), ("Ólafur", "olafur"), ("Zsófia", "zsofia"),
)  # fmt: skip
"""(display, ASCII mail form) pairs."""

LAST_NAMES: tuple[tuple[str, str], ...] = (
    ("Smith", "smith"), ("Johnson", "johnson"), ("García", "garcia"), ("Müller", "muller"),
    ("Nguyễn", "nguyen"), ("李", "li"), ("王", "wang"), ("Kowalski", "kowalski"),
    ("O'Brien", "obrien"), ("Dubois", "dubois"), ("Rossi", "rossi"), ("Svensson", "svensson"),
    ("Ångström", "angstrom"), ("Fernández", "fernandez"), ("Silva", "silva"),
    ("Okafor", "okafor"), ("Patel", "patel"), ("Sharma", "sharma"), ("Kim", "kim"),
    ("Park", "park"), ("Tanaka", "tanaka"), ("Suzuki", "suzuki"), ("Ivanov", "ivanov"),
    ("Y\u0131lmaz", "yilmaz"), ("Novák", "novak"), ("Nielsen", "nielsen"),
    ("van der Berg", "vanderberg"), ("de la Cruz", "delacruz"), ("Murphy", "murphy"),
    ("Brown", "brown"), ("Wilson", "wilson"), ("Taylor", "taylor"), ("Anderson", "anderson"),
    ("Thomas", "thomas"), ("Moore", "moore"), ("Martin", "martin"), ("Lee", "lee"),
    ("Walker", "walker"), ("Hall", "hall"), ("Allen", "allen"), ("Young", "young"),
    ("King", "king"), ("Wright", "wright"), ("López", "lopez"), ("Hill", "hill"),
    ("Scott", "scott"), ("Green", "green"), ("Adams", "adams"), ("Baker", "baker"),
    ("Nelson", "nelson"), ("Carter", "carter"), ("Mitchell", "mitchell"), ("Pérez", "perez"),
    ("Roberts", "roberts"), ("Turner", "turner"), ("Phillips", "phillips"),
    ("Campbell", "campbell"), ("Evans", "evans"), ("Haddad", "haddad"), ("Cohen", "cohen"),
    ("Mensah", "mensah"), ("Schröder", "schroder"), ("Łukaszewicz", "lukaszewicz"),
    ("Ferreira", "ferreira"),
)  # fmt: skip
"""(display, ASCII mail form) pairs; a few have spaces, apostrophes or CJK characters."""

PERSONAL_DOMAINS = ("gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com",
                    "proton.me", "gmx.de", "web.de")  # fmt: skip
"""Consumer mail domains of recipients who are not (or not only) in the directory."""

EXTERNAL_DOMAINS = ("fabrikam.com", "northwindtraders.com", "tailspintoys.com",
                    "adventure-works.com")  # fmt: skip
"""Other companies' domains: contractors and partners with no account in the tenant."""

DEPARTMENTS = ("Engineering", "Sales", "Marketing", "Finance", "Human Resources", "Operations",
               "Legal", "Customer Success", "Research & Development", "IT")  # fmt: skip

JOB_TITLES = ("Engineer", "Senior Engineer", "Analyst", "Manager", "Consultant", "Architect",
              "Specialist", "Director", "Associate", "Technician")  # fmt: skip

OWNER_ORG_SUFFIXES = ("Learning", "Cloud Academy", "Security Guild", "Data Institute",
                      "Partner Programme", "Leadership School")  # fmt: skip
"""Owner organisations are named `<Tenant> <suffix>`."""

PARTNER_ORGS = ("Fabrikam University", "Northwind Traders Academy", "Tailspin Toys Institute",
                "Adventure Works Cycles", "Woodgrove Bank Learning", "Wide World Importers",
                "Trey Research Labs")  # fmt: skip
"""Partner organisations co-issuing some templates."""

TEMPLATE_TOPICS = (
    "Azure Fundamentals", "Cloud Architecture", "Data Engineering",
    "Machine Learning Practitioner", "Cybersecurity Essentials", "Project Management",
    "Agile Delivery", "DevOps Engineering", "Kubernetes Operations", "Network Administration",
    "Python Programming", "SQL Data Analysis", "UX Research", "Leadership Foundations",
    "Customer Success", "Sales Excellence", "Financial Modelling", "Privacy & Compliance",
    "Incident Response", "Identity & Access Management", "Power BI Reporting",
    "Sustainability Reporting", "Technical Writing", "Mentoring Programme",
    "Données et IA — Niveau 2", "クラウド基礎", "Datenschutz-Grundlagen",
    "Accessibility Champion", "Quality Assurance", "Solution Selling",
)  # fmt: skip

LEVELS = ("Foundational", "Intermediate", "Advanced", "Expert")

TYPE_CATEGORIES = ("Certification", "Learning", "Validation", "Experience")

TIMES_TO_EARN = ("Hours", "Days", "Weeks", "Months", "Years")

SKILLS = (
    "Cloud Computing", "Microsoft Azure", "Networking", "Security", "Python", "SQL",
    "Data Analysis", "Machine Learning", "Kubernetes", "Docker", "DevOps", "Agile", "Scrum",
    "Leadership", "Communication", "Project Management", "Risk Management", "Power BI",
    "Identity Management", "Incident Response", "Accessibility", "Technical Writing",
    "Negotiation", "Financial Analysis", "GDPR", "Testing", "UX Design", "Mentoring",
    "Gestion de projet", "データ分析", "Sécurité réseau", "Résolution de problèmes",
)  # fmt: skip

DESCRIPTIONS = (
    "Earners of {name} have demonstrated the knowledge and skills the programme requires.",
    "Les titulaires du badge « {name} » maîtrisent les compétences clés — bravo à Zoë et José !",
    "この認定バッジ「{name}」は、クラウドの基礎知識と実践的なスキルを証明します。",
    "شارة {name} تثبت إتقان المهارات الأساسية في هذا المجال.",
    "תג {name} מעיד על שליטה במיומנויות הליבה של התוכנית.",
    "🎓 {name}: earned with 💪 and ☕. Well done! 🚀",
    "Holders of <b>{name}</b> completed the <i>hands-on</i> labs &amp; the final assessment.",
    "{name} <script>alert(1)</script> <img src=x onerror=alert(2)> — hostile markup on purpose.",
    "Line one of {name}.\nLine two, with a tab\tand \"double\" and 'single' quotes.",
    "Inhaber*innen von {name} kennen die Grundlagen. Ünïcödé ✓ Ωμέγα 中文 العربية.",
)
"""Template descriptions, `{name}` replaced by the template name: plain text, accents, CJK,
RTL scripts, emoji, HTML, a script injection, control characters and mixed scripts."""

REVOCATION_REASONS = (
    "Issued in error",
    "Assessment result withdrawn",
    "Policy violation",
    "Émis par erreur — doublon",
    "Credential superseded",
)
