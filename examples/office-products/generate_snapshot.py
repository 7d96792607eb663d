#!/usr/bin/env python3
"""Generate a synthetic, seeded snapshot shaped like Bright Data's Amazon products dataset.

The output mimics what the Bright Data Web Scraper API returns for its Amazon
products dataset: a JSON array (or NDJSON) of product objects with fields such as
``title``, ``brand``, ``description``, ``features``, ``categories``,
``final_price``, ``rating``, ``asin`` and ``url``. All brands and products are
fictional.

Descriptions follow a consistent "house style" per category (an opening line
naming the brand and product type, a sentence weaving in two or three of the
product's feature bullets, and a closing line), so that a small model can learn
to write ``description`` from ``title`` + ``brand`` + ``features``.

On top of that the generator injects the kinds of noise real scrapes have, all
seeded: HTML in descriptions, empty / missing / null descriptions, exact and
near duplicates, very short and very long records, non-English listings,
prices as strings and missing ratings.

Standard library only. The same ``--seed`` and ``--count`` always produce
byte-identical output.

Usage::

    python examples/office-products/generate_snapshot.py
    python examples/office-products/generate_snapshot.py --seed 7 --count 360 \
        --out examples/office-products/data/snapshot.json --format json
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import os
import random
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "data" / "snapshot.json"
DEFAULT_SEED = 7
DEFAULT_COUNT = 360
MIN_COUNT = 60

DOMAIN = "https://www.amazon.com/"
SNAPSHOT_START = _dt.datetime(2025, 1, 14, 6, 0, 0, tzinfo=_dt.timezone.utc)

# Share of ``count`` for each noise kind (at least one of each is always produced).
NOISE_RATES: dict[str, float] = {
    "html": 0.10,
    "empty_description": 0.05,
    "missing_description": 0.03,
    "null_description": 0.02,
    "exact_duplicate": 0.04,
    "near_duplicate": 0.05,
    "short": 0.02,
    "long": 0.02,
    "non_english": 0.03,
    "price_string": 0.025,
    "missing_rating": 0.008,
}
NOISE_KINDS = tuple(NOISE_RATES)

# Description-level noise kinds are mutually exclusive on a base record.
DESCRIPTION_KINDS = (
    "html",
    "empty_description",
    "missing_description",
    "null_description",
    "short",
    "long",
    "non_english",
)

# --------------------------------------------------------------------------
# Category catalogue
# --------------------------------------------------------------------------
# Each category has: breadcrumb, brands, series lines, product types as
# (title form, lowercase noun), variant attributes, title templates, feature
# bullets as (bullet, phrase used in descriptions), per-category openings and
# closings, a "unit" word for shared connector sentences, a short noun for very
# short records, and a price range.

CATEGORIES: list[dict[str, Any]] = [
    {
        "key": "pens",
        "breadcrumb": ["Office Products", "Office & School Supplies",
                       "Writing & Correction Supplies", "Pens & Refills", "Pens"],
        "brands": ["Inkwell & Co.", "Scribera", "Penrose", "FlowLine", "Quillmark",
                   "Nexo Office", "BrightWrite"],
        "lines": ["Gel Glide", "SmoothStroke", "ProWriter", "Everyday", "Signature", "QuickDry"],
        "types": [("Gel Pens", "gel pens"), ("Ballpoint Pens", "ballpoint pens"),
                  ("Rollerball Pens", "rollerball pens"), ("Fineliner Pens", "fineliner pens")],
        "variants": {
            "tip": ["0.5mm Fine", "0.7mm Medium", "1.0mm Bold"],
            "color": ["Black", "Blue", "Assorted Colors", "Red"],
            "count": [4, 8, 12, 24, 36],
        },
        "titles": ["{brand} {line} {type}, {tip} Point, {color} Ink, {count} Pack",
                   "{brand} {type} {line}, {color}, {tip} Point ({count}-Count)"],
        "features": [
            ("SMOOTH WRITING: Premium ink glides across the page for consistent, skip-free lines",
             "premium ink that glides on for skip-free lines"),
            ("QUICK-DRYING INK: Fast-drying formula resists smears and smudges, ideal for left-handed writers",
             "a fast-drying formula that resists smears"),
            ("COMFORT GRIP: Contoured rubber grip reduces hand fatigue during long writing sessions",
             "a contoured rubber grip that reduces hand fatigue"),
            ("RETRACTABLE DESIGN: Click mechanism keeps the tip protected and ready to write",
             "a retractable click design that protects the tip"),
            ("VALUE PACK: Includes {count} pens in {color_l} ink for home, school, and office",
             "a value pack of {count} pens in {color_l} ink"),
            ("{tip_u} POINT: Precise tip delivers crisp, clean lines for notes and signatures",
             "a {tip_l} point for crisp, precise lines"),
            ("ARCHIVAL INK: Acid-free, fade-resistant ink keeps documents legible for years",
             "archival, fade-resistant ink that keeps documents legible"),
            ("POCKET CLIP: Sturdy metal clip attaches securely to notebooks, planners, and pockets",
             "a sturdy metal clip that attaches to notebooks or pockets"),
            ("LONG-LASTING: High-capacity ink reservoir writes up to 1,500 meters per pen",
             "a high-capacity reservoir that writes up to 1,500 meters"),
            ("REFILLABLE: Compatible with standard refills so you can keep your favorite pen in use",
             "a refillable barrel that works with standard refills"),
        ],
        "openings": [
            "Write with confidence using the {brand} {line} {noun}.",
            "The {brand} {line} {noun} are made for people who write every day.",
            "Upgrade your everyday writing with {noun} from {brand}.",
            "From quick notes to important signatures, the {brand} {line} {noun} deliver smooth, reliable performance.",
        ],
        "closings": [
            "Keep a pack on your desk, in your bag, and by the phone.",
            "They are a dependable choice for the office, the classroom, and home.",
            "Stock up and never reach for a dried-out pen again.",
            "Ideal for students, teachers, and busy professionals.",
        ],
        "unit": "set",
        "short_noun": "pens",
        "price": (5.0, 28.0),
    },
    {
        "key": "notebooks",
        "breadcrumb": ["Office Products", "Office & School Supplies", "Paper",
                       "Notebooks & Writing Pads", "Notebooks"],
        "brands": ["Paperleaf", "Northbound Paper", "Quillmark", "Studio Folio", "Ledgerly",
                   "Campus Line", "Mosswood"],
        "lines": ["Classic", "Everyday", "Scholar", "Premium", "Field", "Daily"],
        "types": [("Spiral Notebook", "spiral notebook"), ("Composition Notebook", "composition notebook"),
                  ("Hardcover Journal", "hardcover journal"), ("Subject Notebook", "subject notebook")],
        "variants": {
            "ruling": ["College Ruled", "Wide Ruled", "Dot Grid", "Graph Ruled"],
            "size": ["8.5 x 11 in", "A5", "7.5 x 9.75 in"],
            "sheets": [70, 80, 100, 120, 160],
            "count": [1, 3, 5, 6],
        },
        "titles": ["{brand} {line} {type}, {ruling}, {size}, {sheets} Sheets, {count} Pack",
                   "{brand} {type} - {ruling}, {sheets} Sheets, {size} ({line} Series, {count} Pack)"],
        "features": [
            ("{ruling_u}: Clean {ruling_l} pages keep handwriting neat and organized",
             "{ruling_l} pages that keep notes neat"),
            ("{sheets} SHEETS: Plenty of room for lecture notes, meeting minutes, and project plans",
             "{sheets} sheets with plenty of room for notes"),
            ("THICK PAPER: 80 gsm paper minimizes ink bleed-through and ghosting",
             "thick 80 gsm paper that minimizes bleed-through"),
            ("DURABLE COVER: Sturdy cover protects pages in backpacks and briefcases",
             "a sturdy cover that protects pages on the go"),
            ("PERFORATED PAGES: Micro-perforated sheets tear out cleanly",
             "micro-perforated sheets that tear out cleanly"),
            ("LAY-FLAT BINDING: Opens flat for comfortable writing on both sides",
             "lay-flat binding for comfortable writing"),
            ("POCKET DIVIDERS: Built-in pockets hold loose handouts and receipts",
             "built-in pocket dividers for loose papers"),
            ("ELASTIC CLOSURE: Elastic band keeps the notebook closed and pages secure",
             "an elastic closure that keeps pages secure"),
            ("NUMBERED PAGES: Page numbers and an index make notes easy to find",
             "numbered pages with an index for quick reference"),
            ("ECO-FRIENDLY: Made with FSC-certified paper from responsible sources",
             "FSC-certified paper from responsible sources"),
        ],
        "openings": [
            "Capture every idea in the {brand} {line} {noun}.",
            "The {brand} {line} {noun} gives your notes a clean, organized home.",
            "Stay organized in class and at work with this {noun} from {brand}.",
            "Whether you are journaling, planning, or taking notes, the {brand} {line} {noun} is ready.",
        ],
        "closings": [
            "It is a reliable companion for students, writers, and professionals.",
            "Toss one in your bag and take your ideas anywhere.",
            "Great for school, the office, and creative projects at home.",
            "Keep a fresh notebook on hand for every subject and meeting.",
        ],
        "unit": "notebook",
        "short_noun": "notebook",
        "price": (5.0, 26.0),
    },
    {
        "key": "staplers",
        "breadcrumb": ["Office Products", "Office & School Supplies", "Staplers & Punches", "Staplers"],
        "brands": ["Steelcraft", "Nexo Office", "BindRight", "Officium", "TruGrip", "Ironleaf"],
        "lines": ["Pro", "Classic", "Precision", "Series 5", "Ultra", "Max"],
        "types": [("Desktop Stapler", "desktop stapler"), ("Heavy Duty Stapler", "heavy duty stapler"),
                  ("Compact Stapler", "compact stapler"), ("Electric Stapler", "electric stapler"),
                  ("Long Reach Stapler", "long reach stapler")],
        "variants": {
            "capacity": [20, 25, 30, 40, 60, 100],
            "color": ["Black", "Silver", "Blue", "Red", "White"],
        },
        "titles": ["{brand} {line} {type}, {capacity} Sheet Capacity, {color}",
                   "{brand} {type} {line} - {capacity}-Sheet, Jam-Free, {color}"],
        "features": [
            ("{capacity}-SHEET CAPACITY: Staples up to {capacity} sheets of 20 lb paper in one press",
             "a {capacity}-sheet capacity for thick reports"),
            ("JAM-FREE MECHANISM: Precision track reduces jams and misfires",
             "a jam-free mechanism that reduces misfires"),
            ("LESS EFFORT: Spring-assisted design requires up to 50% less force",
             "spring-assisted stapling that takes less effort"),
            ("BUILT-IN REMOVER: Integrated staple remover on the back end",
             "a built-in staple remover"),
            ("NON-SKID BASE: Rubber base keeps the stapler steady on any desk",
             "a non-skid rubber base that stays steady"),
            ("EASY LOADING: Top-loading channel makes refills quick and simple",
             "a top-loading channel for quick refills"),
            ("INCLUDES STAPLES: Comes with 1,000 standard staples to get started",
             "1,000 standard staples to get you started"),
            ("METAL CONSTRUCTION: All-metal body stands up to daily office use",
             "an all-metal body built for daily use"),
            ("STAPLE WINDOW: See-through window shows when it is time to reload",
             "a staple window that shows when to reload"),
            ("VERSATILE: Staples, tacks, and pins with a rotating anvil",
             "a rotating anvil for stapling, tacking, and pinning"),
        ],
        "openings": [
            "Tackle every stack of paperwork with the {brand} {line} {noun}.",
            "The {brand} {line} {noun} is built for busy desks and shared workspaces.",
            "Fasten documents cleanly and quickly with this {noun} from {brand}.",
            "Reports, handouts, and invoices come together neatly with the {brand} {line} {noun}.",
        ],
        "closings": [
            "It is a dependable tool for offices, classrooms, and home workspaces.",
            "Keep one at every workstation and stop hunting for a stapler.",
            "A solid, no-fuss stapler that will last for years.",
            "Perfect for teachers, office managers, and home offices.",
        ],
        "unit": "stapler",
        "short_noun": "stapler",
        "price": (8.0, 45.0),
    },
    {
        "key": "desk_organizers",
        "breadcrumb": ["Office Products", "Office & School Supplies",
                       "Desk Accessories & Workspace Organizers", "Desk Organizers"],
        "brands": ["Deskora", "Tidyworks", "Mosswood", "Officium", "Clearline Home", "Urban Nook",
                   "Bamboo & Birch"],
        "lines": ["Modern", "Essentials", "Studio", "Loft", "Classic", "Nordic"],
        "types": [("Desk Organizer", "desk organizer"), ("Mesh Desk Organizer", "mesh desk organizer"),
                  ("Bamboo Desk Organizer", "bamboo desk organizer"), ("Drawer Organizer", "drawer organizer"),
                  ("Desktop File Organizer", "desktop file organizer")],
        "variants": {
            "compartments": [4, 5, 6, 8, 10],
            "color": ["Black", "White", "Walnut", "Natural Bamboo", "Gray"],
        },
        "titles": ["{brand} {line} {type} with {compartments} Compartments, {color}",
                   "{brand} {type}, {compartments} Compartment Desktop Storage ({line}, {color})"],
        "features": [
            ("{compartments} COMPARTMENTS: Separate sections for pens, notes, scissors, and your phone",
             "{compartments} compartments for pens, notes, and gadgets"),
            ("SPACE-SAVING: Compact footprint frees up room on crowded desks",
             "a compact footprint that frees up desk space"),
            ("STURDY BUILD: Solid construction resists scratches, wobbling, and rust",
             "sturdy, scratch-resistant construction"),
            ("SLIDING DRAWER: Hidden drawer keeps paper clips and small items out of sight",
             "a sliding drawer for paper clips and small items"),
            ("FILE SLOTS: Upright slots hold letters, folders, and notebooks",
             "upright slots for folders or letters"),
            ("PHONE STAND: Built-in slot props up your phone for calls and video",
             "a built-in phone stand"),
            ("NO ASSEMBLY: Arrives ready to use straight out of the box",
             "a ready-to-use design with no assembly required"),
            ("NON-SLIP FEET: Soft pads protect your desk surface",
             "non-slip feet that protect your desk"),
            ("EASY TO CLEAN: Wipes clean with a damp cloth",
             "a surface that wipes clean with a damp cloth"),
            ("VERSATILE: Works on desks, countertops, vanities, and craft tables",
             "a versatile shape for desks, counters, and craft tables"),
        ],
        "openings": [
            "Bring order to a cluttered workspace with the {brand} {line} {noun}.",
            "The {brand} {line} {noun} keeps everyday essentials sorted and within reach.",
            "Reclaim your desk with this {noun} from {brand}.",
            "A tidy desk makes for a focused day, and the {brand} {line} {noun} helps you get there.",
        ],
        "closings": [
            "It fits right in at the office, in a home study, or in a dorm room.",
            "A simple upgrade that makes every workday feel more organized.",
            "Great for home offices, classrooms, and reception desks.",
            "It also makes a thoughtful gift for coworkers and students.",
        ],
        "unit": "organizer",
        "short_noun": "desk organizer",
        "price": (12.0, 45.0),
    },
    {
        "key": "sticky_notes",
        "breadcrumb": ["Office Products", "Office & School Supplies", "Paper", "Sticky Notes"],
        "brands": ["Stickwell", "NoteNest", "Quillmark", "BrightWrite", "Memo & More", "Paperleaf"],
        "lines": ["Super Hold", "Original", "Pastel", "Neon", "Everyday", "Eco"],
        "types": [("Sticky Notes", "sticky notes"), ("Sticky Note Cubes", "sticky note cubes"),
                  ("Lined Sticky Notes", "lined sticky notes"), ("Sticky Flags", "sticky flags")],
        "variants": {
            "size": ["3 x 3 in", "3 x 5 in", "4 x 6 in", "2 x 2 in"],
            "colors": ["Assorted Bright Colors", "Pastel Colors", "Canary Yellow", "Neon Colors"],
            "pads": [6, 12, 18, 24],
        },
        "titles": ["{brand} {line} {type}, {size}, {colors}, {pads} Pads",
                   "{brand} {type} {size} - {pads} Pads/Pack, 100 Sheets/Pad, {colors} ({line})"],
        "features": [
            ("STRONG ADHESIVE: Holds firmly on walls, monitors, and doors without falling off",
             "strong adhesive that holds on walls and monitors"),
            ("CLEAN REMOVAL: Peels off without leaving residue or damaging surfaces",
             "clean removal with no sticky residue"),
            ("{pads} PADS: {pads} pads with 100 sheets each for a long-lasting supply",
             "{pads} pads of 100 sheets each"),
            ("{colors_u}: Eye-catching {colors_l} make reminders easy to spot",
             "eye-catching {colors_l} that stand out"),
            ("{size_u} SIZE: Generous writing space for lists, reminders, and ideas",
             "a roomy {size} size for lists or reminders"),
            ("SMOOTH PAPER: Works well with pens, pencils, and markers",
             "smooth paper that works with pens, pencils, and markers"),
            ("RECYCLABLE: Made with recyclable paper and solvent-free adhesive",
             "recyclable paper with a solvent-free adhesive"),
            ("POP-UP DISPENSING: Sheets pull out one at a time from a dispenser",
             "pop-up sheets that dispense one at a time"),
            ("BRAINSTORM READY: Perfect for planning boards and team sessions",
             "a format made for brainstorming boards"),
        ],
        "openings": [
            "Never lose track of a thought with {noun} from {brand}.",
            "The {brand} {line} {noun} make it easy to leave reminders anywhere.",
            "Jot it down and stick it up with the {brand} {line} {noun}.",
            "From to-do lists to brainstorming walls, the {brand} {line} {noun} keep ideas visible.",
        ],
        "closings": [
            "Keep a stack by your monitor, on your fridge, and in your bag.",
            "They are a must-have for offices, classrooms, and study sessions.",
            "Perfect for students, planners, and busy teams.",
            "Stock up so there is always a fresh pad within reach.",
        ],
        "unit": "pack",
        "short_noun": "sticky notes",
        "price": (5.0, 25.0),
    },
    {
        "key": "printer_paper",
        "breadcrumb": ["Office Products", "Office & School Supplies", "Paper",
                       "Copy & Multipurpose Paper"],
        "brands": ["Brightsheet", "Northbound Paper", "PrimeCopy", "Officium", "Ledgerly", "ClearPrint"],
        "lines": ["Multipurpose", "Everyday", "Premium", "Ultra Bright", "Copy Plus", "Eco"],
        "types": [("Copy Paper", "copy paper"), ("Printer Paper", "printer paper"),
                  ("Multipurpose Paper", "multipurpose paper"), ("Laser Paper", "laser paper"),
                  ("Inkjet Paper", "inkjet paper")],
        "variants": {
            "size": ["8.5 x 11 in Letter", "8.5 x 14 in Legal"],
            "weight": [20, 24, 28],
            "brightness": [92, 96, 97, 100],
            "reams": [1, 3, 5, 8, 10],
        },
        "titles": ["{brand} {line} {type}, {size}, {weight} lb, {brightness} Bright, {reams} Ream{s} ({sheets} Sheets)",
                   "{brand} {type} {size} - {weight} lb, {brightness} Brightness, {sheets} Sheets ({line})"],
        "features": [
            ("{brightness} BRIGHTNESS: Bright white paper for sharp text and vivid colors",
             "{brightness}-bright white paper for sharp text"),
            ("{weight} LB WEIGHT: Substantial feel that holds up to double-sided printing",
             "a {weight} lb weight that handles double-sided printing"),
            ("JAM-FREE PERFORMANCE: Runs smoothly in copiers, laser printers, and inkjet printers",
             "jam-free performance in copiers, laser, and inkjet printers"),
            ("{sheets} SHEETS: {reams} ream{s} of 500 sheets each",
             "{sheets} sheets across {reams} ream{s}"),
            ("ACID-FREE: Archival quality helps prevent yellowing over time",
             "acid-free, archival quality that resists yellowing"),
            ("SUSTAINABLE: Sourced from responsibly managed forests",
             "fiber from responsibly managed forests"),
            ("INKLOCK TECHNOLOGY: Bolder blacks and faster drying times",
             "InkLock technology for bolder blacks"),
            ("MOISTURE-PROOF WRAP: Ream wrap keeps paper flat and dry",
             "moisture-proof ream wrap that keeps sheets flat"),
            ("SMOOTH FINISH: Consistent surface for crisp text and clean lines",
             "a smooth finish for crisp, clean printing"),
        ],
        "openings": [
            "Keep your printer stocked with {brand} {line} {noun}.",
            "The {brand} {line} {noun} delivers crisp, professional results on every page.",
            "Print with confidence using {noun} from {brand}.",
            "From everyday memos to client-ready reports, the {brand} {line} {noun} handles it all.",
        ],
        "closings": [
            "It is a dependable choice for busy offices, schools, and home printers.",
            "Order by the case and keep your workflow moving.",
            "Reliable sheet after sheet, ream after ream.",
            "A smart everyday paper for homes, schools, and businesses.",
        ],
        "unit": "paper",
        "short_noun": "printer paper",
        "price": (7.0, 20.0),  # per ream, scaled below
    },
    {
        "key": "office_chairs",
        "breadcrumb": ["Office Products", "Office Furniture & Lighting", "Chairs & Sofas",
                       "Desk Chairs"],
        "brands": ["ErgoNest", "Sitwell", "Officium", "Posture Lab", "Urban Nook", "Corvex"],
        "lines": ["Comfort", "Executive", "ProSeat", "Flex", "Aero", "Task"],
        "types": [("Ergonomic Office Chair", "ergonomic office chair"), ("Mesh Office Chair", "mesh office chair"),
                  ("Executive Desk Chair", "executive desk chair"), ("Task Chair", "task chair"),
                  ("Home Office Chair", "home office chair")],
        "variants": {
            "arms": ["Flip-Up Arms", "Adjustable Arms", "Padded Armrests"],
            "material": ["Breathable Mesh Back", "Bonded Leather", "Fabric Seat"],
            "color": ["Black", "Gray", "White", "Navy"],
            "capacity": [250, 275, 300, 330],
        },
        "titles": ["{brand} {line} {type} with {arms}, {material}, {color}",
                   "{brand} {type}, {line} High Back Computer Chair with {arms} and Lumbar Support, {color}"],
        "features": [
            ("LUMBAR SUPPORT: Adjustable lumbar support follows the natural curve of your spine",
             "adjustable lumbar support that follows your spine"),
            ("BREATHABLE MESH: Mesh back keeps air flowing during long workdays",
             "a breathable mesh back that stays cool"),
            ("HEIGHT ADJUSTABLE: Pneumatic lift adjusts seat height with one lever",
             "one-touch pneumatic height adjustment"),
            ("{arms_u}: {arms} let you customize arm position for your desk",
             "{arms_l} for a custom fit"),
            ("SMOOTH-ROLLING CASTERS: Quiet nylon casters glide over carpet and hard floors",
             "quiet casters that glide over any floor"),
            ("TILT AND LOCK: Recline up to 120 degrees and lock in place",
             "a tilt mechanism that locks in place"),
            ("THICK CUSHION: High-density foam seat stays comfortable all day",
             "a high-density foam seat for all-day comfort"),
            ("{capacity} LB CAPACITY: Heavy-duty base supports up to {capacity} pounds",
             "a heavy-duty base rated for {capacity} pounds"),
            ("EASY ASSEMBLY: All tools included; assembles in about 15 minutes",
             "easy assembly in about 15 minutes"),
            ("360 DEGREE SWIVEL: Full swivel lets you reach everything on your desk",
             "a full 360-degree swivel"),
        ],
        "openings": [
            "Sit comfortably through long workdays in the {brand} {line} {noun}.",
            "The {brand} {line} {noun} is designed to support you from the first meeting to the last email.",
            "Give your back the support it deserves with this {noun} from {brand}.",
            "Work, study, or game in comfort with the {brand} {line} {noun}.",
        ],
        "closings": [
            "It is a smart upgrade for home offices, studies, and conference rooms.",
            "Your back will thank you at the end of every day.",
            "An easy choice for anyone who spends hours at a desk.",
            "Comfortable, adjustable, and built to last.",
        ],
        "unit": "chair",
        "short_noun": "office chair",
        "price": (79.0, 349.0),
    },
    {
        "key": "desk_lamps",
        "breadcrumb": ["Office Products", "Office Furniture & Lighting", "Lamps & Lighting",
                       "Desk Lamps"],
        "brands": ["Lumora", "BrightNest", "Glowcraft", "Deskora", "Halden Light", "Clearline Home"],
        "lines": ["Flex", "Studio", "Arc", "Slim", "Focus", "Halo"],
        "types": [("LED Desk Lamp", "LED desk lamp"), ("Architect Desk Lamp", "architect desk lamp"),
                  ("Clamp Desk Lamp", "clamp desk lamp"), ("Dimmable Desk Lamp", "dimmable desk lamp"),
                  ("Desk Lamp with USB Port", "desk lamp with USB port")],
        "variants": {
            "modes": [3, 5],
            "levels": [5, 7, 10],
            "color": ["Black", "White", "Silver", "Matte Gray"],
        },
        "titles": ["{brand} {line} {type}, {modes} Color Modes, {levels} Brightness Levels, {color}",
                   "{brand} {type} - Eye-Caring Reading Light, {modes} Modes x {levels} Levels ({line}, {color})"],
        "features": [
            ("EYE-CARING LIGHT: Flicker-free LEDs reduce eye strain during long sessions",
             "flicker-free LEDs that reduce eye strain"),
            ("{modes} COLOR MODES: Switch from warm to cool light with one touch",
             "{modes} color modes from warm to cool"),
            ("{levels} BRIGHTNESS LEVELS: Dim for reading or brighten for detailed work",
             "{levels} brightness levels for any task"),
            ("FLEXIBLE ARM: Adjustable arm and head direct light exactly where you need it",
             "a flexible arm that aims light where you need it"),
            ("USB CHARGING PORT: Built-in USB port charges your phone while you work",
             "a built-in USB charging port"),
            ("TOUCH CONTROL: Responsive touch panel with memory function",
             "a responsive touch panel with memory"),
            ("AUTO-OFF TIMER: 60-minute timer turns the lamp off automatically",
             "a 60-minute auto-off timer"),
            ("ENERGY EFFICIENT: Uses up to 75% less energy than incandescent bulbs",
             "energy-efficient LEDs that save power"),
            ("STABLE BASE: Weighted base keeps the lamp steady",
             "a weighted base that keeps it steady"),
            ("50,000-HOUR LIFESPAN: Long-life LEDs never need replacing",
             "long-life LEDs rated for 50,000 hours"),
        ],
        "openings": [
            "Light up your workspace with the {brand} {line} {noun}.",
            "The {brand} {line} {noun} puts bright, comfortable light exactly where you need it.",
            "Read, study, and work late without squinting, thanks to this {noun} from {brand}.",
            "Late-night projects are easier on the eyes with the {brand} {line} {noun}.",
        ],
        "closings": [
            "It is a perfect fit for home offices, dorm rooms, and bedside tables.",
            "A modern lamp that works as hard as you do.",
            "Ideal for students, designers, and remote workers.",
            "Brighten your desk and your day.",
        ],
        "unit": "lamp",
        "short_noun": "desk lamp",
        "price": (18.0, 69.0),
    },
    {
        "key": "highlighters",
        "breadcrumb": ["Office Products", "Office & School Supplies", "Writing & Correction Supplies",
                       "Markers & Highlighters", "Highlighters"],
        "brands": ["BrightWrite", "Inkwell & Co.", "Glowmark", "Scribera", "FlowLine", "Nexo Office"],
        "lines": ["Fluo", "Pastel", "Bold", "Study", "Mild", "Vivid"],
        "types": [("Highlighters", "highlighters"), ("Chisel Tip Highlighters", "chisel tip highlighters"),
                  ("Gel Highlighters", "gel highlighters"), ("Dual Tip Highlighters", "dual tip highlighters")],
        "variants": {
            "colors": ["Assorted Colors", "Pastel Colors", "Yellow", "Neon Colors"],
            "count": [4, 6, 10, 12, 24],
        },
        "titles": ["{brand} {line} {type}, {colors}, {count} Count",
                   "{brand} {type} {count} Pack - {colors} ({line})"],
        "features": [
            ("VIBRANT COLORS: Bright fluorescent ink makes key passages pop",
             "bright fluorescent ink that makes key passages pop"),
            ("CHISEL TIP: Draw broad highlights or fine underlines with one tip",
             "a chisel tip for broad highlights or fine underlines"),
            ("NO BLEED: Quick-drying ink will not bleed through thin pages",
             "quick-drying ink that will not bleed through"),
            ("SMEAR GUARD: Ink resists smearing over most pen and printer inks",
             "smear-resistant ink that works over printed text"),
            ("{count} COUNT: Includes {count} highlighters in {colors_l}",
             "{count} highlighters in {colors_l}"),
            ("LONG-LASTING: Stays fresh even with the cap off for hours",
             "cap-off protection that keeps tips fresh"),
            ("SAFE FOR THIN PAGES: Gentle ink is safe for thin Bible and dictionary pages",
             "gentle ink that is safe for thin pages"),
            ("POCKET CLIP: Clip keeps highlighters attached to notebooks and planners",
             "a handy pocket clip"),
        ],
        "openings": [
            "Make important information stand out with {brand} {line} {noun}.",
            "The {brand} {line} {noun} turn dense reading into clear, color-coded notes.",
            "Study smarter with {noun} from {brand}.",
            "From textbooks to contracts, the {brand} {line} {noun} help you spot what matters.",
        ],
        "closings": [
            "They belong in every pencil case, backpack, and desk drawer.",
            "Perfect for students, teachers, and anyone who reviews documents.",
            "Color-code your notes and find what you need faster.",
            "A bright, dependable set for school and the office.",
        ],
        "unit": "set",
        "short_noun": "highlighters",
        "price": (4.0, 22.0),
    },
    {
        "key": "binders",
        "breadcrumb": ["Office Products", "Office & School Supplies", "Binders & Binding Systems",
                       "Binders"],
        "brands": ["BindRight", "Ledgerly", "Officium", "Studio Folio", "Campus Line", "Clearline Home"],
        "lines": ["Heavy Duty", "View", "Everyday", "Durable", "Flex", "Premium"],
        "types": [("3 Ring Binder", "3 ring binder"), ("View Binder", "view binder"),
                  ("D-Ring Binder", "D-ring binder"), ("Zipper Binder", "zipper binder")],
        "variants": {
            "ring": ["1", "1.5", "2", "3"],
            "color": ["Black", "White", "Blue", "Assorted Colors"],
            "count": [1, 2, 4, 6, 12],
        },
        "titles": ["{brand} {line} {type}, {ring} Inch Rings, {color}, {count} Pack",
                   "{brand} {type} {ring}\" - {line}, {color} ({count} Pack)"],
        "features": [
            ("{ring}-INCH RINGS: Holds up to {ring_cap} sheets of letter-size paper",
             "{ring}-inch rings that hold up to {ring_cap} sheets"),
            ("CLEAR VIEW COVER: Slip in a custom cover page and spine label",
             "a clear view cover for custom inserts"),
            ("ONE-TOUCH RINGS: Easy-open rings snap shut securely",
             "one-touch rings that snap shut securely"),
            ("INTERIOR POCKETS: Two inside pockets hold loose papers",
             "two interior pockets for loose papers"),
            ("DURABLE CONSTRUCTION: Reinforced spine and tear-resistant cover",
             "a reinforced spine with a tear-resistant cover"),
            ("PVC-FREE: Made without PVC for a safer, eco-conscious choice",
             "PVC-free materials for an eco-conscious choice"),
            ("GAP-FREE RINGS: Rings align perfectly so pages turn smoothly",
             "gap-free rings that keep pages turning smoothly"),
            ("SHEET LIFTERS: Included sheet lifters protect pages from ring damage",
             "sheet lifters that protect pages"),
        ],
        "openings": [
            "Keep important documents organized with the {brand} {line} {noun}.",
            "The {brand} {line} {noun} is built to protect reports, handouts, and presentations.",
            "Put paperwork in its place with this {noun} from {brand}.",
            "From class notes to client proposals, the {brand} {line} {noun} keeps everything in order.",
        ],
        "closings": [
            "It is a go-to choice for schools, offices, and home filing.",
            "Label it, fill it, and find what you need in seconds.",
            "Built to stand up to a full year of daily use.",
            "Perfect for students, teachers, and project teams.",
        ],
        "unit": "binder",
        "short_noun": "binder",
        "price": (5.0, 32.0),
    },
]

RING_CAPACITY = {"1": 225, "1.5": 350, "2": 500, "3": 675}

# Shared connector sentences that weave feature phrases into the copy.
CONNECT_TWO = [
    "Highlights include {a} and {b}.",
    "You get {a}, along with {b}.",
    "This {unit} combines {a} with {b}.",
    "Designed with {a} and {b}, this {unit} is built to keep up with your day.",
    "Standout details include {a} and {b}.",
]
CONNECT_THREE = [
    "Key features include {a}, {b}, and {c}.",
    "Highlights include {a}, {b}, and {c}.",
    "This {unit} brings together {a}, {b}, and {c}.",
]
CONNECT_EXTRA = [
    "Another thoughtful touch is {c}.",
    "You will also appreciate {c}.",
    "On top of that, you get {c}.",
]

SHORT_DESCRIPTIONS = [
    "Good {noun}.",
    "Basic {noun}, works well.",
    "Nice {noun} for office.",
    "Great {noun}, fast shipping.",
    "Reliable {noun} for everyday.",
]

THIRD_PARTY_SELLERS = ["Desk Supply Co.", "PaperTrail Goods", "Midtown Office Outlet",
                       "BlueRiver Trading", "Summit Supply House", "Northgate Wholesale"]

AVAILABILITY = [
    ("In Stock", True, 70),
    ("Only 3 left in stock - order soon.", True, 8),
    ("Only 1 left in stock - order soon.", True, 4),
    ("In stock soon. Order it now.", True, 5),
    ("Usually ships within 2 to 3 days.", True, 6),
    ("Temporarily out of stock.", False, 4),
    ("Currently unavailable.", False, 3),
]

# --------------------------------------------------------------------------
# Non-English listings (written for this example; real sentences)
# --------------------------------------------------------------------------
# Per category: (title noun, noun with article) for Spanish and French, title noun
# for German.
FOREIGN_NOUNS: dict[str, dict[str, tuple[str, str]]] = {
    "pens": {"es": ("Bolígrafos de gel", "los bolígrafos de gel"), "de": ("Gelschreiber", ""),
             "fr": ("Stylos gel", "des stylos gel")},
    "notebooks": {"es": ("Cuaderno de espiral", "el cuaderno de espiral"), "de": ("Spiralblock", ""),
                  "fr": ("Cahier à spirale", "un cahier à spirale")},
    "staplers": {"es": ("Grapadora de oficina", "la grapadora de oficina"), "de": ("Bürohefter", ""),
                 "fr": ("Agrafeuse de bureau", "une agrafeuse de bureau")},
    "desk_organizers": {"es": ("Organizador de escritorio", "el organizador de escritorio"),
                        "de": ("Schreibtisch-Organizer", ""),
                        "fr": ("Organiseur de bureau", "un organiseur de bureau")},
    "sticky_notes": {"es": ("Notas adhesivas", "las notas adhesivas"), "de": ("Haftnotizen", ""),
                     "fr": ("Notes adhésives", "des notes adhésives")},
    "printer_paper": {"es": ("Papel para impresora", "el papel para impresora"), "de": ("Druckerpapier", ""),
                      "fr": ("Papier d'impression", "du papier d'impression")},
    "office_chairs": {"es": ("Silla de oficina ergonómica", "la silla de oficina ergonómica"),
                      "de": ("Ergonomischer Bürostuhl", ""),
                      "fr": ("Chaise de bureau ergonomique", "une chaise de bureau ergonomique")},
    "desk_lamps": {"es": ("Lámpara de escritorio LED", "la lámpara de escritorio LED"),
                   "de": ("LED-Schreibtischlampe", ""),
                   "fr": ("Lampe de bureau LED", "une lampe de bureau LED")},
    "highlighters": {"es": ("Marcadores fluorescentes", "los marcadores fluorescentes"), "de": ("Textmarker", ""),
                     "fr": ("Surligneurs", "des surligneurs")},
    "binders": {"es": ("Carpeta de anillas", "la carpeta de anillas"), "de": ("Ringordner", ""),
                "fr": ("Classeur à anneaux", "un classeur à anneaux")},
}

FOREIGN: dict[str, dict[str, list[str]]] = {
    "es": {
        "title_extra": ["color negro", "para oficina y escuela", "diseño moderno", "alta calidad"],
        "openings": [
            "{noun} {brand}: calidad fiable para la oficina, la escuela y el hogar.",
            "Con {art} de {brand}, su jornada de trabajo será más cómoda y organizada.",
            "{brand} presenta {art}, una opción práctica para el trabajo diario.",
        ],
        "middles": [
            "Este producto está fabricado con materiales resistentes y duraderos.",
            "Su diseño práctico facilita el uso diario sin complicaciones.",
            "Cada detalle ha sido pensado para ofrecer comodidad y precisión.",
            "Es fácil de usar y se adapta a cualquier espacio de trabajo.",
        ],
        "closings": [
            "Es ideal para profesionales, estudiantes y oficinas en casa.",
            "Un regalo perfecto para compañeros de trabajo y estudiantes.",
            "Disfrute de una excelente relación calidad-precio.",
        ],
        "features": ["Materiales de alta calidad y larga duración", "Diseño compacto y práctico",
                     "Ideal para oficina, escuela y hogar", "Fácil de usar desde el primer día",
                     "Garantía de satisfacción del fabricante", "Excelente relación calidad-precio"],
    },
    "de": {
        "title_extra": ["Schwarz", "für Büro und Schule", "modernes Design", "hochwertige Qualität"],
        "openings": [
            "{brand} {noun} – zuverlässige Qualität für Büro, Schule und Homeoffice.",
            "Mit diesem Produkt von {brand} bleibt Ihr Arbeitsplatz ordentlich und produktiv.",
            "{brand} präsentiert: {noun} für den täglichen Einsatz.",
        ],
        "middles": [
            "Das Produkt besteht aus robusten, langlebigen Materialien.",
            "Das durchdachte Design sorgt für eine einfache Handhabung im Alltag.",
            "Jedes Detail wurde auf Komfort und Präzision ausgelegt.",
            "Es ist sofort einsatzbereit und passt auf jeden Schreibtisch.",
        ],
        "closings": [
            "Ideal für Berufstätige, Studierende und das Homeoffice.",
            "Ein praktisches Geschenk für Kollegen und Schüler.",
            "Überzeugen Sie sich vom hervorragenden Preis-Leistungs-Verhältnis.",
        ],
        "features": ["Hochwertige, langlebige Materialien", "Kompaktes und praktisches Design",
                     "Ideal für Büro, Schule und Zuhause", "Einfache Handhabung ohne Vorkenntnisse",
                     "Zufriedenheitsgarantie des Herstellers", "Hervorragendes Preis-Leistungs-Verhältnis"],
    },
    "fr": {
        "title_extra": ["noir", "pour le bureau et l'école", "design moderne", "haute qualité"],
        "openings": [
            "{noun} {brand} : une qualité fiable pour le bureau, l'école et la maison.",
            "Avec ce produit {brand}, votre espace de travail reste organisé et efficace.",
            "{brand} vous propose {art} pour un usage quotidien, au bureau comme à la maison.",
        ],
        "middles": [
            "Ce produit est fabriqué avec des matériaux solides et durables.",
            "Son design pratique facilite l'utilisation au quotidien.",
            "Chaque détail a été pensé pour offrir confort et précision.",
            "Il est prêt à l'emploi et trouve sa place sur tous les bureaux.",
        ],
        "closings": [
            "Idéal pour les professionnels, les étudiants et le télétravail.",
            "Un cadeau parfait pour vos collègues et les étudiants.",
            "Profitez d'un excellent rapport qualité-prix.",
        ],
        "features": ["Matériaux de haute qualité et durables", "Design compact et pratique",
                     "Idéal pour le bureau, l'école et la maison", "Facile à utiliser dès le premier jour",
                     "Garantie satisfaction du fabricant", "Excellent rapport qualité-prix"],
    },
}

# Text used to bloat the very long records (repeated spec paragraphs, as in bad scrapes).
LONG_CARE = ("Care and use: Store in a cool, dry place away from direct sunlight. Keep small parts "
             "out of reach of young children. Colors may vary slightly from the images shown "
             "because of screen settings. Please check all dimensions and specifications "
             "carefully before ordering to make sure this item suits your needs.")
LONG_PROMISE = ("Our promise: Every {brand} product is backed by a one-year limited warranty and "
                "friendly customer support. If you are not completely satisfied with your purchase, "
                "contact us through your order page and we will make it right with a replacement "
                "or a full refund, no questions asked.")


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def _word_count(text: str) -> int:
    return len(text.split())


def _fmt_values(attrs: dict[str, Any]) -> dict[str, Any]:
    """Formatting dict: every attribute plus ``_u`` (upper) and ``_l`` (lower) forms."""
    values: dict[str, Any] = {}
    for key, value in attrs.items():
        values[key] = value
        if isinstance(value, str):
            values[key + "_u"] = value.upper()
            values[key + "_l"] = value.lower()
    return values


def _make_asin(rng: random.Random, used: set[str]) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    while True:
        asin = "B0" + "".join(rng.choice(alphabet) for _ in range(8))
        if asin not in used:
            used.add(asin)
            return asin


def _make_image_url(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    ident = rng.choice(["51", "61", "71", "81"]) + "".join(rng.choice(alphabet) for _ in range(7)) + "L"
    return f"https://m.media-amazon.com/images/I/{ident}._AC_SL1500_.jpg"


def _make_timestamp(rng: random.Random) -> str:
    offset_ms = rng.randrange(0, 3 * 24 * 3600 * 1000)
    moment = SNAPSHOT_START + _dt.timedelta(milliseconds=offset_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _price_ending(rng: random.Random, value: float) -> float:
    cents = rng.choice([0.99, 0.99, 0.99, 0.49, 0.95, 0.97])
    return round(max(1.0, float(int(value))) + cents, 2)


def _weighted_availability(rng: random.Random) -> tuple[str, bool]:
    total = sum(w for _, _, w in AVAILABILITY)
    pick = rng.randrange(total)
    for text, ok, weight in AVAILABILITY:
        if pick < weight:
            return text, ok
        pick -= weight
    return AVAILABILITY[0][0], AVAILABILITY[0][1]


# --------------------------------------------------------------------------
# Product construction
# --------------------------------------------------------------------------

def _product_attrs(rng: random.Random, cat: dict[str, Any]) -> dict[str, Any]:
    type_title, noun = rng.choice(cat["types"])
    attrs: dict[str, Any] = {
        "brand": rng.choice(cat["brands"]),
        "line": rng.choice(cat["lines"]),
        "type": type_title,
        "noun": noun,
        "unit": cat["unit"],
    }
    for key, options in cat["variants"].items():
        attrs[key] = rng.choice(options)
    if "reams" in attrs:
        attrs["s"] = "" if attrs["reams"] == 1 else "s"
        attrs["sheets"] = attrs["reams"] * 500
    if "ring" in attrs:
        attrs["ring_cap"] = RING_CAPACITY[attrs["ring"]]
    return attrs


def _compose_description(rng: random.Random, cat: dict[str, Any], values: dict[str, Any],
                         phrases: list[str]) -> str:
    """House-style copy: opening + 2-3 woven feature phrases + closing (40-90 words)."""
    for _ in range(50):
        opening = rng.choice(cat["openings"]).format(**values)
        closing = rng.choice(cat["closings"]).format(**values)
        if len(phrases) >= 3:
            pattern = rng.choice(["two_extra", "three", "two", "three"])
        else:
            pattern = "two"
        a, b = phrases[0], phrases[1]
        if pattern == "three":
            middle = [rng.choice(CONNECT_THREE).format(a=a, b=b, c=phrases[2], unit=cat["unit"])]
        elif pattern == "two_extra":
            middle = [rng.choice(CONNECT_TWO).format(a=a, b=b, unit=cat["unit"]),
                      rng.choice(CONNECT_EXTRA).format(c=phrases[2])]
        else:
            middle = [rng.choice(CONNECT_TWO).format(a=a, b=b, unit=cat["unit"])]
        text = " ".join([opening, *middle, closing])
        if 40 <= _word_count(text) <= 90:
            return text
    return text  # pragma: no cover - the pools are sized to fit


def _base_product(rng: random.Random, cat: dict[str, Any], used_asins: set[str],
                  used_titles: set[str]) -> dict[str, Any]:
    for _ in range(200):
        attrs = _product_attrs(rng, cat)
        values = _fmt_values(attrs)
        title = rng.choice(cat["titles"]).format(**values)
        if title not in used_titles:
            break
    used_titles.add(title)

    n_features = rng.randint(3, 6)
    chosen = rng.sample(cat["features"], n_features)
    features = [bullet.format(**values) for bullet, _ in chosen]
    phrases = [phrase.format(**values) for _, phrase in chosen]
    n_mentioned = 3 if n_features >= 3 and rng.random() < 0.6 else 2
    description = _compose_description(rng, cat, values, phrases[:n_mentioned])

    lo, hi = cat["price"]
    base_price = rng.uniform(lo, hi)
    if cat["key"] == "printer_paper":
        base_price *= attrs["reams"] * 0.8 + 0.2
    final_price = _price_ending(rng, base_price)
    if rng.random() < 0.4:
        initial_price = _price_ending(rng, final_price * rng.uniform(1.1, 1.4))
        discount: str | None = f"-{round(100 * (1 - final_price / initial_price))}%"
    else:
        initial_price, discount = final_price, None

    rating = round(min(5.0, max(1.0, rng.triangular(2.8, 5.0, 4.6))), 1)
    reviews = int(min(150000, rng.lognormvariate(5.0, 1.7)))
    availability, is_available = _weighted_availability(rng)
    roll = rng.random()
    if roll < 0.5:
        seller = attrs["brand"]
    elif roll < 0.75:
        seller = "Amazon.com"
    else:
        seller = rng.choice(THIRD_PARTY_SELLERS)
    asin = _make_asin(rng, used_asins)

    return {
        "title": title,
        "seller_name": seller,
        "brand": attrs["brand"],
        "description": description,
        "initial_price": initial_price,
        "currency": "USD",
        "availability": availability,
        "reviews_count": reviews,
        "categories": list(cat["breadcrumb"]),
        "asin": asin,
        "domain": DOMAIN,
        "url": f"https://www.amazon.com/dp/{asin}",
        "image_url": _make_image_url(rng),
        "rating": rating,
        "discount": discount,
        "final_price": final_price,
        "features": features,
        "bought_past_month": rng.choice([None, None, 50, 100, 200, 300, 500, 1000, 2000]),
        "is_available": is_available,
        "timestamp": _make_timestamp(rng),
    }


# --------------------------------------------------------------------------
# Noise injectors
# --------------------------------------------------------------------------

def _to_html(rng: random.Random, record: dict[str, Any]) -> None:
    text: str = record["description"]
    sentences = re.split(r"(?<=[.!?])\s+", text)
    style = rng.choice(["paragraphs", "breaks", "list", "bold"])
    if style == "paragraphs":
        html = "<p>" + sentences[0] + "</p><p>" + " ".join(sentences[1:]) + "</p>"
    elif style == "breaks":
        html = rng.choice(["<br>", "<br/>", "<br />"]).join(sentences)
    elif style == "list":
        items = "".join(f"<li>{f}</li>" for f in record["features"])
        html = "<p>" + text + "</p><ul>" + items + "</ul>"
    else:
        brand = record["brand"]
        html = "<p>" + text.replace(brand, f"<b>{brand}</b>", 1) + "</p>"
    # Entities, as scraped HTML carries them.
    html = html.replace("&", "&amp;").replace("&amp;amp;", "&amp;")
    if " and " in html and rng.random() < 0.6:
        html = html.replace(" and ", " &amp; ", 1)
    if rng.random() < 0.4:
        html = html.replace("'", "&#39;").replace(" - ", " &ndash; ")
    if rng.random() < 0.3:
        html = html.replace(". ", ".&nbsp; ", 1)
    record["description"] = html


def _to_short(rng: random.Random, cat: dict[str, Any], record: dict[str, Any]) -> None:
    noun = cat["short_noun"]
    record["title"] = f"{record['brand']} {noun.title()}"
    record["features"] = record["features"][:1]
    candidates = [t.format(noun=noun) for t in SHORT_DESCRIPTIONS]
    candidates = [t for t in candidates if 3 <= _word_count(t) <= 5]
    record["description"] = rng.choice(candidates)


def _to_long(rng: random.Random, cat: dict[str, Any], record: dict[str, Any]) -> None:
    spec = (f"Product specifications: Brand: {record['brand']}. Category: {cat['breadcrumb'][-1]}. "
            f"Item: {record['title']}. Package contents: the item as described, with a printed quick "
            f"start guide. Country of origin: imported.")
    features = "Features: " + " ".join(f.rstrip(".") + "." for f in record["features"])
    promise = LONG_PROMISE.format(brand=record["brand"])
    blocks = [features, spec, LONG_CARE, promise]
    parts = [record["description"]]
    target = 600 + rng.randrange(0, 250)
    i = 0
    while _word_count(" ".join(parts)) < target:
        parts.append(blocks[i % len(blocks)])
        i += 1
    record["description"] = "\n\n".join(parts)


def _to_foreign(rng: random.Random, cat: dict[str, Any], record: dict[str, Any], lang: str) -> None:
    pools = FOREIGN[lang]
    noun, art = FOREIGN_NOUNS[cat["key"]][lang]
    brand = record["brand"]
    if lang == "de":
        record["title"] = f"{brand} {noun}, {rng.choice(pools['title_extra'])}"
    else:
        record["title"] = f"{noun} {brand}, {rng.choice(pools['title_extra'])}"
    opening = rng.choice(pools["openings"]).format(noun=noun, art=art, brand=brand)
    middles = rng.sample(pools["middles"], rng.choice([1, 2]))
    closing = rng.choice(pools["closings"])
    record["description"] = " ".join([opening, *middles, closing])
    record["features"] = rng.sample(pools["features"], rng.randint(3, 5))


def _near_duplicate(rng: random.Random, cat: dict[str, Any], source: dict[str, Any],
                    used_asins: set[str]) -> dict[str, Any]:
    rec = copy.deepcopy(source)
    title = rec["title"]
    edits = []
    number = re.search(r"(\d+)(?=( |-)?(Pack|Count|Pads|Sheets|Ream))", title)
    if number:
        edits.append("pack")
    edits.extend(["colour", "suffix"])
    edit = rng.choice(edits)
    if edit == "pack" and number:
        old = int(number.group(1))
        new = rng.choice([n for n in (2, 3, 4, 6, 10, 12, 18, 20, 24, 48) if n != old])
        title = title[:number.start(1)] + str(new) + title[number.end(1):]
    elif edit == "colour":
        colour = rng.choice(["Black", "Blue", "Gray", "White", "Rose Gold", "Green", "Navy"])
        title = f"{title} ({colour})" if rng.random() < 0.5 else f"{title}, {colour}"
    else:
        title = title + rng.choice([" - New Version", " (2025 Edition)", ", Value Pack", " - Bulk Pack"])
    rec["title"] = title

    if rng.random() < 0.5:
        desc = rec["description"]
        closings = [c for c in cat["closings"] if c not in desc]
        old_closing = next((c for c in cat["closings"] if desc.endswith(c)), None)
        if old_closing and closings:
            desc = desc[: -len(old_closing)] + rng.choice(closings)
        else:
            desc = desc + " Now available in a new look."
        rec["description"] = desc

    asin = _make_asin(rng, used_asins)
    rec["asin"] = asin
    rec["url"] = f"https://www.amazon.com/dp/{asin}"
    rec["image_url"] = _make_image_url(rng)
    rec["final_price"] = _price_ending(rng, rec["final_price"] * rng.uniform(0.8, 1.25))
    if rec["discount"] is None:
        rec["initial_price"] = rec["final_price"]
    else:
        rec["initial_price"] = max(rec["initial_price"], _price_ending(rng, rec["final_price"] * 1.15))
        rec["discount"] = f"-{round(100 * (1 - rec['final_price'] / rec['initial_price']))}%"
    rec["reviews_count"] = int(min(150000, rng.lognormvariate(3.5, 1.5)))
    rec["rating"] = round(min(5.0, max(1.0, source["rating"] + rng.choice([-0.2, -0.1, 0.0, 0.1]))), 1)
    rec["seller_name"] = rng.choice(THIRD_PARTY_SELLERS + [source["seller_name"]])
    rec["timestamp"] = _make_timestamp(rng)
    return rec


# --------------------------------------------------------------------------
# Snapshot assembly
# --------------------------------------------------------------------------

def noise_counts(count: int) -> dict[str, int]:
    """How many records of each noise kind a snapshot of ``count`` products gets."""
    return {kind: max(1, round(rate * count)) for kind, rate in NOISE_RATES.items()}


def build_snapshot(count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED
                   ) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """Return ``(records, labels)``; ``labels[i]`` lists the noise kinds of ``records[i]``.

    Labels are not written to the snapshot; they exist for tests and summaries.
    """
    if count < MIN_COUNT:
        raise ValueError(f"count must be at least {MIN_COUNT}, got {count}")
    rng = random.Random(seed)
    plan = noise_counts(count)
    n_base = count - plan["exact_duplicate"] - plan["near_duplicate"]

    used_asins: set[str] = set()
    used_titles: set[str] = set()
    # Spread products evenly over categories, then shuffle.
    cat_for_base = [CATEGORIES[i % len(CATEGORIES)] for i in range(n_base)]
    rng.shuffle(cat_for_base)
    base = [_base_product(rng, cat, used_asins, used_titles) for cat in cat_for_base]
    labels: list[list[str]] = [[] for _ in base]

    # Assign mutually exclusive noise kinds to distinct base records.
    order = list(range(n_base))
    rng.shuffle(order)
    cursor = 0

    def take(n: int) -> list[int]:
        nonlocal cursor
        picked = order[cursor:cursor + n]
        cursor += n
        return picked

    languages = ["es", "de", "fr"]
    for kind in DESCRIPTION_KINDS + ("price_string", "missing_rating"):
        for j, idx in enumerate(take(plan[kind])):
            rec, cat = base[idx], cat_for_base[idx]
            labels[idx].append(kind)
            if kind == "html":
                _to_html(rng, rec)
            elif kind == "empty_description":
                rec["description"] = ""
            elif kind == "missing_description":
                del rec["description"]
            elif kind == "null_description":
                rec["description"] = None
            elif kind == "short":
                _to_short(rng, cat, rec)
            elif kind == "long":
                _to_long(rng, cat, rec)
            elif kind == "non_english":
                _to_foreign(rng, cat, rec, languages[j % len(languages)])
            elif kind == "price_string":
                rec["final_price"] = f"${rec['final_price']:.2f}"
                if rng.random() < 0.5:
                    rec["initial_price"] = f"${rec['initial_price']:.2f}"
            elif kind == "missing_rating":
                rec["rating"] = None
                rec["reviews_count"] = 0

    clean = order[cursor:]
    base_labels = [list(kinds) for kinds in labels]
    records = list(base)
    # Near duplicates: re-listings of clean products under a new ASIN.
    near_sources = clean[: plan["near_duplicate"]]
    for idx in near_sources:
        dup = _near_duplicate(rng, cat_for_base[idx], base[idx], used_asins)
        pos = rng.randrange(len(records) + 1)
        records.insert(pos, dup)
        labels.insert(pos, ["near_duplicate"])
    # Exact duplicates: the same object repeated, same ASIN.
    exact_sources = rng.sample(range(n_base), plan["exact_duplicate"])
    for idx in exact_sources:
        dup = copy.deepcopy(base[idx])
        dup_labels = ["exact_duplicate"] + base_labels[idx]
        pos = rng.randrange(len(records) + 1)
        records.insert(pos, dup)
        labels.insert(pos, dup_labels)
    return records, labels


def summarize(records: list[dict[str, Any]], labels: list[list[str]]) -> dict[str, int]:
    counts = {kind: 0 for kind in NOISE_KINDS}
    for kinds in labels:
        if kinds and kinds[0] == "exact_duplicate":
            counts["exact_duplicate"] += 1
            continue
        for kind in kinds:
            counts[kind] += 1
    return counts


def serialize(records: list[dict[str, Any]], fmt: str = "json") -> str:
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    if fmt == "ndjson":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    raise ValueError(f"unknown format: {fmt!r}")


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate a seeded synthetic Bright Data-style Amazon office-products snapshot.")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT,
                        help=f"number of product records to write, duplicates included "
                             f"(default: %(default)s, minimum {MIN_COUNT})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output file (default: %(default)s)")
    parser.add_argument("--format", choices=["json", "ndjson"], default="json",
                        help="JSON array or one object per line (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.count < MIN_COUNT:
        parser.error(f"--count must be at least {MIN_COUNT}")

    records, labels = build_snapshot(args.count, args.seed)
    write_atomic(args.out, serialize(records, args.format))
    counts = summarize(records, labels)
    n_categories = len({r["categories"][-1] for r in records})
    n_brands = len({r["brand"] for r in records})
    noisy = sum(1 for kinds in labels if kinds)
    detail = " ".join(f"{k}={v}" for k, v in counts.items())
    print(f"wrote {len(records)} products ({n_categories} categories, {n_brands} brands, "
          f"{noisy} noisy: {detail}) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
