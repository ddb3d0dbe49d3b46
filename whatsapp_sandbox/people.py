"""The simulated WhatsApp world: the demo members' phones and their customers.

Members match Closeline's `flask seed-demo` people. Customers live in several countries and are
written in several formats; some are visible to the members only by their `@lid` (some of those
have a LID↔phone mapping the gateway can resolve, one does not)."""

MEMBERS = [
    # e164, name, email in Closeline's demo, lid
    ("+14155550001", "Olivia Owner", "owner@acme.test", "201010000000001"),
    ("+14155550002", "Adam Admin", "admin@acme.test", "201010000000002"),
    ("+14155550003", "Mia Member", "member@acme.test", "201010000000003"),
    ("+442079460004", "Gus Globex", "owner@globex.test", "201010000000004"),
]

CUSTOMERS = [
    # e164, name, written as (how a person would type it), lid, visible only as @lid, lid resolvable
    ("+14155550123", "Jane Cooper", "(415) 555-0123", "301020000000001", False, True),
    ("+447400123456", "Oliver Smith", "+44 7400 123456", "301020000000002", False, True),
    ("+5511987654321", "Maria Souza", "+55 11 98765-4321", "301020000000003", False, True),
    ("+4915123456789", "Lukas Schmidt", "0151 23456789", "301020000000004", False, True),
    ("+919876543210", "Priya Sharma", "+91 98765 43210", "301020000000005", False, True),
    ("+33612345678", "Camille Martin", "06 12 34 56 78", "301020000000006", False, True),
    ("+5215512345678", "Diego Hernández", "+52 1 55 1234 5678", "301020000000007", False, True),
    ("+61412345678", "Chloe Nguyen", "0412 345 678", "301020000000008", True, True),
    ("+2348031234567", "Chinedu Okafor", "+234 803 123 4567", "301020000000009", True, True),
    ("+6591234567", "Wei Ling Tan", "+65 9123 4567", "301020000000010", True, False),
]
