"""Name pools for the synthetic population: common names, no real person's record."""

FIRST_FEMALE = (
    "Maria Ana Aisha Fatima Grace Jasmine Keisha Linh Mei Nadia Olga Priya Rosa Sofia "
    "Tanisha Valentina Yolanda Zainab Amara Carmen Daniela Esperanza Imani Jade Leila "
    "Marisol Naomi Patience Ruth Samira Teresa Wei Xiomara Yasmin Abigail Brianna Chloe"
).split()
FIRST_MALE = (
    "Jose Mohammed Andre Carlos David Ibrahim Jamal Kwame Luis Malik Marcus Nikolai Omar "
    "Pedro Rafael Samuel Tariq Victor Wilson Yusuf Ahmed Bakary Cheng Darnell Emeka Felix "
    "Gabriel Hassan Isaac Jerome Kofi Lamar Mateo Nathaniel Oscar Quincy Rashid Tyrone"
).split()
SURNAMES = (
    "Garcia Rodriguez Martinez Hernandez Lopez Gonzalez Perez Sanchez Ramirez Torres "
    "Johnson Williams Brown Jones Davis Miller Wilson Moore Taylor Thomas Jackson White "
    "Harris Martin Thompson Robinson Clark Lewis Walker Young Allen King Wright Scott "
    "Nguyen Chen Wang Li Zhang Kim Park Diallo Traore Toure Okafor Mensah Ali Khan Hussain "
    "Ahmed Singh Patel Cohen Levy Rivera Cruz Reyes Morales Ortiz Gutierrez Diaz Vargas "
    "Castillo Jimenez Ruiz Alvarez Romero Medina Herrera Aguilar Ivanova Petrov Kowalski"
).split()
STREETS = (
    "Atlantic Ave|Grand Concourse|Broadway|Fulton St|Jamaica Ave|Flatbush Ave|Nostrand Ave|"
    "Fordham Rd|Westchester Ave|Roosevelt Ave|Amsterdam Ave|Lenox Ave|Utica Ave|Victory Blvd"
).split("|")
BOROUGH_ZIPS = ("10451", "10452", "10456", "10029", "10035", "11207", "11212", "11233", "11368", "11432", "10301")
