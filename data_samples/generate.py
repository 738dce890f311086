"""Deterministic generator of synthetic, de-identified clinical notes for STEU Audit.

Every note is assembled from hand-written templates by a seeded ``random.Random``; nothing comes
from a real record. Notes carry no names, dates, phone numbers or record numbers: patients are
"the patient" / "pt" / "a 54-year-old man", times are relative ("3 days ago").

Usage::

    python data_samples/generate.py [--out DIR] [--per-class N] [--seed S]

writes ``train.csv``, ``test.csv`` (stratified 75/25 split) and ``forget_substance_use.csv`` (the
training notes of the sensitive class). ``generate_notes(n_per_class, seed)`` returns the notes as
dicts for code that needs large corpora (about ten thousand notes per second on one core).

Only ``Random.random()`` is drawn from (choices are built on it here), so the output depends on the
Mersenne Twister stream alone and is byte-identical across Python versions and platforms.
"""
from __future__ import annotations

import argparse
import csv
import io
import random
from pathlib import Path

DEFAULT_SEED = 1729
DEFAULT_PER_CLASS = 320
TEST_FRACTION = 0.25
SENSITIVE_CLASS = "substance_use_disorder"
FORGET_FILE = "forget_substance_use.csv"
CLASSES = ("substance_use_disorder", "heart_failure", "pneumonia", "type2_diabetes", "copd",
           "major_depression")
MIN_WORDS = 25
# Every note fits the demo model's 128 tokens (steu_core.demo.DEMO_CONFIG.max_length), so the demo reads its
# notes whole. The demo's WordPiece tokenizer gives up to about 0.38 tokens a character on these dense notes
# (abbreviations, vitals): 320 characters (before typing slips) came to at most 123 tokens, [CLS] and [SEP]
# included. tests/test_data_samples.py counts the tokens with the tokenizer itself.
MAX_CHARS = 320

# How a note carries its diagnosis: clearly from the start, only weakly / late (the decisive words
# come in the assessment at the end of the note), or genuinely mixed with a neighbouring condition.
# Cumulative thresholds on one uniform draw.
P_WEAK = 0.15
P_AMBIGUOUS = 0.06
TYPO_COUNTS = (0, 0, 0, 0, 1, 1, 1, 2, 2, 3)  # typos per note, drawn uniformly from this list

# --------------------------------------------------------------------------------------------
# Section headers: five spellings per section (ALL CAPS, abbreviated, Title case, ...). A note picks
# one column for its style, and each section sometimes deviates from it.
HEADERS = {
    "cc": ("CHIEF COMPLAINT:", "CC:", "Chief Complaint:", "Reason for visit:", "C/C:"),
    "hpi": ("HISTORY OF PRESENT ILLNESS:", "HPI:", "History of Present Illness:", "Subjective:", "HPI -"),
    "pmh": ("PAST MEDICAL HISTORY:", "PMH:", "Past Medical History:", "PMHx:", "Past hx:"),
    "meds": ("MEDICATIONS:", "Meds:", "Current Medications:", "Home meds:", "MEDS:"),
    "social": ("SOCIAL HISTORY:", "SH:", "Social History:", "Social:", "Soc hx:"),
    "ros": ("REVIEW OF SYSTEMS:", "ROS:", "Review of Systems:", "ROS -", "Systems review:"),
    "exam": ("PHYSICAL EXAM:", "PE:", "Exam:", "Objective:", "EXAM:"),
    "labs": ("LABS/STUDIES:", "Data:", "Labs and imaging:", "Results:", "Diagnostics:"),
    "ap": ("ASSESSMENT/PLAN:", "A/P:", "Assessment and Plan:", "Impression/Plan:", "ASSESSMENT AND PLAN:"),
}


OPENERS = ("", "", "", "", "Progress note.", "ED provider note.", "Clinic visit.", "Telehealth visit.",
           "Admission H&P.", "Urgent care note.", "Follow-up visit.", "Resident note, attending aware.")

# --------------------------------------------------------------------------------------------
# Vocabulary shared by every class.

GENERIC_CC = ("follow-up", "fatigue", "feeling unwell", "medication refill", "hospital follow-up",
              "weakness", "transfer of care", "annual visit, multiple concerns", "fall at home",
              "routine visit", "\"not feeling right\"", "poor appetite")

# symptom-level complaints that fit several classes (used by notes whose diagnosis shows only weakly)
SHARED_CC = ("SOB", "fatigue", "cough", "anxiety and insomnia", "poor sleep", "nausea", "weakness", "DOE",
             "chest tightness", "weight loss", "dizziness", "leg swelling", "shakiness")

GENERIC_HPI = (
    "{Pt} was last seen in clinic {m} months ago.",
    "Brought in by family who noticed {he} has been less active.",
    "Has missed some doses of home meds because of cost.",
    "Appetite has been somewhat reduced.",
    "Reports poor sleep over the past {w} weeks.",
    "Was seen in urgent care {d} days ago and told to follow up here.",
    "{He} lives with a partner and is independent in ADLs.",
    "Overall energy is lower than usual.",
    "Pt is a limited historian; history partly obtained from prior notes.",
    "No recent travel or sick contacts.",
    "Has not had a flu shot this season.",
    "Med reconciliation done with pt at bedside.",
    "{He} has had occasional headaches, relieved by acetaminophen.",
    "Reports mild back pain after lifting boxes {d} days ago.",
    "{His} symptoms have been gradually progressive.",
    "Uses a pill box for {his} medications.",
    "Works part time and reports stress at work.",
    "Pt called the nurse line {d} days ago with these concerns.",
)

GENERIC_PMH = ("HTN", "HLD", "GERD", "OA of the knees", "obesity", "CKD stage 3a", "hypothyroidism",
               "BPH", "generalized anxiety", "paroxysmal AFib", "OSA on CPAP", "chronic low back pain",
               "tobacco use", "anemia", "migraine", "gout", "s/p appendectomy", "s/p cholecystectomy",
               "hepatitis C, treated", "iron deficiency", "vitamin D deficiency", "CAD s/p stent")

GENERIC_MEDS = ("lisinopril 20 mg daily", "atorvastatin 40 mg nightly", "aspirin 81 mg daily",
                "omeprazole 20 mg daily", "amlodipine 5 mg daily", "levothyroxine 75 mcg daily",
                "acetaminophen 650 mg q6h PRN", "gabapentin 300 mg TID", "metoprolol succinate 50 mg daily",
                "hydrochlorothiazide 25 mg daily", "tamsulosin 0.4 mg nightly", "vitamin D3 daily",
                "docusate 100 mg BID", "trazodone 50 mg nightly PRN", "hydroxyzine 25 mg PRN",
                "apixaban 5 mg BID", "losartan 50 mg daily", "ibuprofen PRN", "melatonin 3 mg nightly",
                "ferrous sulfate 325 mg daily", "allopurinol 100 mg daily", "pantoprazole 40 mg daily")

GENERIC_SOCIAL = ("Former smoker, quit {y} years ago.", "Never smoker.", "EtOH socially, 1-2 drinks per week.",
                  "Denies illicit drug use.", "Lives alone in an apartment.", "Lives with spouse.",
                  "Retired, previously worked in construction.", "Works as a cashier.",
                  "Current smoker, half ppd.", "Occasional EtOH.", "No EtOH or drug use.",
                  "Denies tobacco, EtOH or drugs.", "Drinks a glass of wine with dinner.",
                  "Has stairs at home.", "Uses marijuana occasionally for sleep.")

GENERIC_EXAM = ("Alert and oriented x3.", "NAD.", "RRR, no murmurs.", "Lungs CTAB.", "Abdomen soft, NT/ND.",
                "No focal neuro deficits.", "Skin warm and dry.", "Extremities without edema.",
                "Normocephalic, atraumatic.", "Mucous membranes moist.", "Gait steady.", "No rashes.",
                "Neck supple.", "Moves all extremities.")

GENERIC_LABS = ("BMP notable for K {k}.", "CBC unremarkable.", "Creatinine {cr}, at baseline.",
                "TSH within normal limits.", "ECG sinus rhythm, no acute ST changes.", "Lipid panel pending.",
                "Hgb {hgb}.", "Glucose {glu} on BMP.")

GENERIC_PLAN = ("Return precautions reviewed.", "Follow up with PCP in 2 weeks.", "Continue home meds.",
                "Labs as above.", "Pt agrees with plan.", "Med reconciliation completed.",
                "Discussed with attending.", "Fall precautions.", "Flu vaccine offered.", "Diet as tolerated.",
                "DVT ppx with heparin SQ.", "Recheck BMP in 1 week.")

ROS_TERMS = ("fever", "chills", "chest pain", "palpitations", "SOB", "cough", "wheezing", "abdominal pain",
             "nausea", "vomiting", "diarrhea", "dysuria", "rash", "headache", "leg swelling", "weight loss",
             "polyuria", "depressed mood", "SI", "anxiety", "insomnia", "tremor", "night sweats",
             "hemoptysis", "orthopnea", "numbness")

# --------------------------------------------------------------------------------------------
# Class vocabularies. Keys:
#   cc      chief complaints (some shared with other classes)
#   hpi     history sentences carrying the diagnosis
#   soft    nonspecific symptoms that lean toward the class but overlap with others
#   pmh     how the condition is written in a problem list (also used as another class's comorbidity)
#   meds    class medications
#   home    the subset a patient with the condition as history would still take
#   exam    exam findings
#   labs    lab / imaging results
#   dx      assessment lines naming the diagnosis
#   plan    plan items
#   neg     negations other classes' notes use ("denies ...", "no history of ...")
#   near    neighbouring classes for ambiguous notes
#   clash   social-history lines and ROS negatives that would contradict the class
#   age     (low, high)

SPEC = {
    "substance_use_disorder": {
        "age": (20, 64),
        "cc": ("opioid withdrawal", "wants to start buprenorphine", "shakiness and sweating",
               "requesting help to stop using heroin", "alcohol withdrawal", "nausea, vomiting, body aches",
               "follow-up for MAT", "methadone dose question", "s/p overdose, received naloxone",
               "anxiety and insomnia", "abscess at injection site", "wants detox"),
        "hpi": ("Reports daily IV heroin use for about {y} years, last use {h} hours ago.",
                "Uses roughly {bags} bags of fentanyl per day, mostly intranasal, sometimes injected.",
                "Endorses cravings, yawning, rhinorrhea, diarrhea and diffuse myalgias c/w opioid withdrawal.",
                "COWS score on arrival was {cows}.",
                "Drinks {beers} beers a day plus liquor on weekends; last drink {h} hours ago.",
                "AUDIT-C score {auditc}.",
                "Prior alcohol withdrawal with tremor; no hx of withdrawal seizures or DTs.",
                "EMS gave intranasal naloxone {d} days ago after {he} was found unresponsive.",
                "Was on methadone maintenance before and left the program {m} months ago.",
                "Wants to start buprenorphine-naloxone and is motivated for treatment.",
                "Has been buying pills on the street; last urine tox positive for fentanyl and cocaine.",
                "Smokes methamphetamine several times a week.",
                "Describes using more than intended and several failed attempts to cut down.",
                "Lost {his} job {m} months ago in the setting of ongoing use.",
                "Occasionally shares needles; tested positive for hep C antibody in the past.",
                "Stable on buprenorphine {bup} mg daily with no return to use; attends group twice weekly.",
                "CIWA {ciwa} on arrival with tremor and diaphoresis.",
                "Uses opioids to avoid withdrawal rather than to get high.",
                "Started with prescription oxycodone after an injury and moved to heroin when it ran out."),
        "soft": ("Reports anxiety and poor sleep.", "Nausea and loose stools for {d} days.", "Diffuse body aches.",
                 "Feels restless and irritable.", "Sweating at night.", "Decreased appetite for {d} days.",
                 "Some shakiness in the mornings.", "Has had trouble keeping appointments."),
        "pmh": ("opioid use disorder", "OUD on buprenorphine", "alcohol use disorder", "polysubstance use",
                "hx of heroin use, in remission", "alcohol use disorder in early remission"),
        "home": ("buprenorphine-naloxone 8-2 mg SL BID", "methadone {meth} mg daily", "naltrexone 50 mg daily",
                 "naloxone 4 mg nasal spray PRN", "thiamine 100 mg daily"),
        "meds": ("buprenorphine-naloxone 8-2 mg SL BID", "methadone {meth} mg daily", "naltrexone 50 mg daily",
                 "naloxone 4 mg nasal spray PRN", "thiamine 100 mg daily", "folic acid 1 mg daily",
                 "acamprosate 666 mg TID", "clonidine 0.1 mg q6h PRN withdrawal"),
        "exam": ("Pupils dilated, diaphoretic, yawning.", "Tremulous and anxious.", "Track marks on both forearms.",
                 "Piloerection noted.", "Fine tremor of outstretched hands.", "Pinpoint pupils, drowsy but arousable.",
                 "Fluctuant abscess on left forearm with surrounding erythema."),
        "labs": ("Urine tox positive for opioids and fentanyl.", "Serum EtOH {etoh}.",
                 "AST greater than ALT, GGT elevated.",
                 "HCV antibody positive.", "UDS positive for buprenorphine and fentanyl."),
        "dx": ("Opioid use disorder, severe, in early withdrawal.", "Alcohol use disorder with moderate withdrawal.",
               "OUD, stable on buprenorphine.", "Opioid overdose, resolved after naloxone.",
               "Polysubstance use disorder (opioids, stimulants).",
               "Alcohol use disorder, severe; at risk for complicated withdrawal.",
               "Opioid use disorder with skin abscess from injection."),
        "plan": ("Buprenorphine induction once COWS above 8.", "Naloxone kit and overdose education given.",
                 "Referral to outpatient addiction treatment.", "CIWA-guided chlordiazepoxide protocol.",
                 "Thiamine, folate and multivitamin.", "Harm reduction counseling; syringe services info given.",
                 "Continue methadone {meth} mg daily, dose confirmed with OTP.",
                 "Check HIV and hepatitis panel.", "Addiction medicine consult."),
        "neg": ("Denies illicit drug use.", "No history of alcohol use disorder.", "Denies IV drug use.",
                "EtOH socially, no hx of withdrawal.", "No opioid use.", "AUDIT-C {auditc_low}, negative screen."),
        "near": ("major_depression",),
        "clash": ("Denies illicit drug use.", "No EtOH or drug use.", "Denies tobacco, EtOH or drugs.",
                  "EtOH socially, 1-2 drinks per week.", "Occasional EtOH.", "Drinks a glass of wine with dinner.",
                  "tremor", "anxiety", "insomnia", "nausea", "vomiting", "diarrhea", "night sweats"),
    },
    "heart_failure": {
        "age": (52, 92),
        "cc": ("SOB", "SOB and leg swelling", "weight gain and swelling", "DOE", "orthopnea", "CHF follow-up",
               "fatigue and dyspnea", "swelling in both legs", "can't lie flat"),
        "hpi": ("Reports {kg} kg weight gain over the past {d} days with worsening bilateral leg swelling.",
                "Now sleeps on {pillows} pillows and wakes at night gasping for air (PND).",
                "DOE after half a block, previously able to walk two blocks.",
                "Admits to salty food at a family gathering and drinking more fluids than advised.",
                "Ran out of furosemide {d} days ago.",
                "Last echo showed EF {ef}% with moderate MR.",
                "Known ischemic cardiomyopathy with prior MI.",
                "Abdominal bloating and early satiety, belt feels tight.",
                "Home weights have trended up despite taking diuretic as prescribed.",
                "Had a CHF admission {m} months ago for volume overload.",
                "Legs have been swelling up to the knees by the evening."),
        "soft": ("Feels more winded with stairs.", "Ankles swell by the evening.", "Fatigue with exertion.",
                 "Has been sleeping in a recliner lately.", "Some chest tightness with exertion.",
                 "Feels bloated."),
        "pmh": ("CHF", "HFrEF, EF {ef}%", "chronic systolic CHF", "ischemic cardiomyopathy",
                "systolic heart failure"),
        "home": ("furosemide {lasix} mg BID", "carvedilol 12.5 mg BID", "sacubitril-valsartan 49-51 mg BID",
                 "spironolactone 25 mg daily", "torsemide 20 mg daily"),
        "meds": ("furosemide {lasix} mg BID", "carvedilol 12.5 mg BID", "sacubitril-valsartan 49-51 mg BID",
                 "spironolactone 25 mg daily", "empagliflozin 10 mg daily", "torsemide 20 mg daily",
                 "digoxin 0.125 mg daily"),
        "exam": ("JVD to the angle of the jaw.", "Bibasilar crackles.", "2+ pitting edema to the knees.",
                 "S3 gallop.", "Positive hepatojugular reflux.", "Cool extremities, 3+ edema."),
        "labs": ("BNP {bnp}.", "CXR with cephalization and small bilateral effusions.",
                 "Creatinine {cr}, up from baseline.", "Troponin flat x2.", "Echo EF {ef}%."),
        "dx": ("Acute on chronic systolic heart failure exacerbation.", "Decompensated HFrEF, volume overloaded.",
               "CHF exacerbation likely from dietary and medication nonadherence.", "Chronic HFrEF, euvolemic today.",
               "Acute decompensated heart failure."),
        "plan": ("IV furosemide 40 mg BID, strict I/O, daily weights.", "2 g sodium diet, 1.5 L fluid restriction.",
                 "Repeat echo.", "Titrate GDMT as BP allows.", "Cardiology follow-up in 1-2 weeks.",
                 "Heart failure education; call for weight gain over 1 kg a day."),
        "neg": ("Denies orthopnea or PND.", "No leg swelling.", "No history of heart failure.", "No JVD.",
                "Denies weight gain."),
        "near": ("copd", "pneumonia"),
        "clash": ("leg swelling", "orthopnea", "SOB"),
    },
    "pneumonia": {
        "age": (22, 92),
        "cc": ("cough and fever", "productive cough", "fever and chills", "SOB", "pain with deep breaths",
               "cough for {d} days", "fever", "feeling short of breath and feverish"),
        "hpi": ("{d} days of productive cough with yellow-green sputum.",
                "Fever to {temp} C at home with chills and rigors.",
                "Pleuritic right-sided chest pain, worse with deep breaths.",
                "Sick contact at home with similar symptoms last week.",
                "Started azithromycin at urgent care {d} days ago without improvement.",
                "Reports rust-colored sputum and malaise.",
                "Was hospitalized {m} months ago and received IV antibiotics.",
                "Family noted new confusion and fever this morning.",
                "Had a cold {w} weeks ago, then cough and fever returned and worsened.",
                "Choked on food a few times recently; concern for aspiration."),
        "soft": ("Cough for {d} days.", "Felt feverish at home.", "Malaise and decreased appetite.",
                 "Some chest discomfort when coughing.", "More tired than usual.", "Mild SOB with exertion."),
        "pmh": ("prior pneumonia", "CAP {y} years ago", "recurrent aspiration pneumonia", "hx of pneumonia x2"),
        "home": (),
        "meds": ("ceftriaxone 1 g IV daily", "azithromycin 500 mg daily", "doxycycline 100 mg BID",
                 "levofloxacin 750 mg daily", "amoxicillin-clavulanate 875 mg BID", "benzonatate 100 mg TID",
                 "guaifenesin PRN"),
        "exam": ("Crackles over the right lower lobe.", "Bronchial breath sounds and egophony at the left base.",
                 "Dullness to percussion at the right base.", "Febrile and tachypneic.",
                 "Rhonchi in the right mid lung field."),
        "labs": ("WBC {wbc} with left shift.", "CXR with right lower lobe consolidation.", "Procalcitonin {pct}.",
                 "Blood cultures pending.", "Lactate {lactate}.", "CXR with left lower lobe infiltrate."),
        "dx": ("Community-acquired pneumonia, right lower lobe.", "CAP, CURB-65 score {curb}.",
               "Left lower lobe pneumonia, possible aspiration.", "Multifocal pneumonia with sepsis physiology.",
               "Pneumonia, clinically improving on antibiotics."),
        "plan": ("Ceftriaxone and azithromycin.", "Blood and sputum cultures.", "Incentive spirometry.",
                 "Switch to oral antibiotics once afebrile 24 h.", "Repeat CXR in 6 weeks.",
                 "Speech and swallow evaluation.", "Supplemental O2 to keep SpO2 above 92%."),
        "neg": ("No fever or chills.", "Denies productive cough.", "CXR without consolidation.",
                "No recent pneumonia.", "Afebrile."),
        "near": ("copd", "heart_failure"),
        "clash": ("fever", "chills", "cough", "SOB"),
    },
    "type2_diabetes": {
        "age": (34, 82),
        "cc": ("diabetes follow-up", "high blood sugars", "increased thirst and urination", "A1c review",
               "foot numbness", "blurry vision", "DM2 visit", "sugars running high"),
        "hpi": ("Home fingersticks running {bg1} to {bg2} fasting.",
                "Reports polyuria and polydipsia for {w} weeks.",
                "Last A1c was {a1c}%.",
                "Stopped metformin because of GI upset and has not restarted it.",
                "Tingling and numbness in both feet, worse at night.",
                "Started insulin glargine {m} months ago and titrates by fasting sugars.",
                "Has been drinking several sodas a day.",
                "Had two episodes of hypoglycemia with sweating that resolved with juice.",
                "Diagnosed with DM2 {y} years ago; has never seen an eye doctor.",
                "Checks sugars about once a day, sometimes less.",
                "Wants to discuss a weekly injection for diabetes and weight."),
        "soft": ("Feels tired most days.", "More thirsty lately.", "Some numbness in the toes.",
                 "Blurry vision at times.", "Has gained weight over the past year.",
                 "Urinating more at night."),
        "pmh": ("DM2", "type 2 diabetes", "T2DM on insulin", "diabetes with peripheral neuropathy", "NIDDM"),
        "home": ("metformin 1000 mg BID", "insulin glargine {units} units nightly", "glipizide 5 mg daily",
                 "semaglutide 0.5 mg weekly", "empagliflozin 10 mg daily", "sitagliptin 100 mg daily"),
        "meds": ("metformin 1000 mg BID", "insulin glargine {units} units nightly", "insulin lispro sliding scale",
                 "glipizide 5 mg daily", "semaglutide 0.5 mg weekly", "empagliflozin 10 mg daily",
                 "sitagliptin 100 mg daily"),
        "exam": ("Monofilament sensation decreased at both feet.", "Acanthosis nigricans at the neck.",
                 "Feet without ulcers; pedal pulses 2+.", "BMI {bmi}.", "Callus at the first metatarsal head."),
        "labs": ("A1c {a1c}%.", "Urine albumin-to-creatinine ratio elevated.", "Fingerstick glucose {glu_high}.",
                 "LDL {ldl}.", "Fasting glucose {glu_high}."),
        "dx": ("Type 2 diabetes mellitus, uncontrolled, A1c above goal.", "DM2 with hyperglycemia.",
               "T2DM with diabetic peripheral neuropathy.", "Type 2 diabetes, not at goal.",
               "DM2 with microalbuminuria."),
        "plan": ("Increase metformin to 1000 mg BID.", "Start GLP-1 agonist.",
                 "Diabetes education and nutrition referral.",
                 "Diabetic eye exam referral.", "Podiatry referral.", "Recheck A1c in 3 months.",
                 "Titrate glargine by 2 units every 3 days to fasting goal."),
        "neg": ("Denies polyuria or polydipsia.", "No history of diabetes.", "No hypoglycemia.", "A1c normal.",
                "Glucose normal."),
        "near": ("heart_failure", "major_depression"),
        "clash": ("polyuria", "numbness"),
    },
    "copd": {
        "age": (48, 88),
        "cc": ("SOB", "worsening SOB and wheezing", "cough", "COPD exacerbation", "increased sputum",
               "inhaler refill", "DOE", "chest tightness"),
        "hpi": ("{packs} pack-year smoking hx; still smoking about half a ppd.",
                "Increased wheezing and sputum production over {d} days.",
                "Using albuterol rescue inhaler {puffs} times a day, up from once.",
                "On home O2 {o2} L by nasal cannula at baseline.",
                "Sputum thicker and more purulent than usual.",
                "Last PFTs showed FEV1 {fev1}% predicted.",
                "Had {n} exacerbations requiring prednisone this past year.",
                "Quit smoking {y} years ago after a COPD admission.",
                "Cannot finish a sentence without pausing for breath.",
                "Emphysema on prior CT chest."),
        "soft": ("Cough in the mornings.", "Winded with exertion.", "Some chest tightness.",
                 "Has been more short of breath.", "Coughing up some phlegm.", "Fatigue and poor sleep."),
        "pmh": ("COPD", "COPD on home O2", "emphysema", "chronic bronchitis", "GOLD 3 COPD"),
        "home": ("tiotropium 18 mcg daily", "albuterol MDI 2 puffs q4h PRN", "fluticasone-salmeterol 250-50 BID",
                 "budesonide-formoterol 2 puffs BID"),
        "meds": ("tiotropium 18 mcg daily", "albuterol MDI 2 puffs q4h PRN", "fluticasone-salmeterol 250-50 BID",
                 "budesonide-formoterol 2 puffs BID", "ipratropium-albuterol nebs q6h", "roflumilast 500 mcg daily"),
        "exam": ("Diffuse expiratory wheezes.", "Prolonged expiratory phase.", "Decreased breath sounds bilaterally.",
                 "Pursed-lip breathing.", "Using accessory muscles.", "Barrel chest."),
        "labs": ("VBG pH {ph}, pCO2 {pco2}.", "CXR with hyperinflation, no consolidation.",
                 "Spirometry FEV1/FVC {ratio}.", "Eosinophils {eos}."),
        "dx": ("Acute exacerbation of COPD.", "COPD exacerbation, likely viral trigger.",
               "Severe COPD, stable on current inhalers.", "AECOPD with hypercapnia.", "COPD with chronic hypoxemia."),
        "plan": ("Prednisone 40 mg x5 days and azithromycin.", "DuoNebs q4h.",
                 "Smoking cessation counseling; nicotine patch offered.", "Pulmonary rehab referral.",
                 "Titrate O2 to SpO2 88-92%.", "Check inhaler technique."),
        "neg": ("No wheezing.", "Never smoker.", "No history of COPD or asthma.", "Lungs clear, no wheezes.",
                "No home O2."),
        "near": ("heart_failure", "pneumonia"),
        "clash": ("Never smoker.", "SOB", "cough", "wheezing"),
    },
    "major_depression": {
        "age": (18, 78),
        "cc": ("depressed mood", "low mood and poor sleep", "depression follow-up", "fatigue",
               "anxiety and insomnia", "trouble concentrating", "feeling hopeless", "medication check"),
        "hpi": ("Reports low mood most days for {w} weeks.",
                "Anhedonia; no longer enjoys cooking or seeing friends.",
                "Sleep is poor with early morning awakening.",
                "PHQ-9 score today {phq}.",
                "Endorses passive SI without plan or intent; no prior attempts.",
                "Decreased appetite with {kg} kg weight loss.",
                "Difficulty concentrating at work and feels guilty and worthless.",
                "Prior depressive episode {y} years ago treated with sertraline.",
                "Family has noticed {he} is withdrawn and stays in bed.",
                "Started escitalopram {w} weeks ago with partial improvement.",
                "Stopped {his} antidepressant {m} months ago and mood has worsened since."),
        "soft": ("Poor sleep.", "Low energy.", "Decreased appetite.", "Trouble concentrating.",
                 "Feels stressed and irritable.", "Not getting out of the house much."),
        "pmh": ("MDD", "major depressive disorder, recurrent", "depression", "hx of depression",
                "MDD with anxious distress"),
        "home": ("sertraline {sert} mg daily", "escitalopram 10 mg daily", "bupropion XL 150 mg daily",
                 "mirtazapine 15 mg nightly", "venlafaxine XR 75 mg daily", "duloxetine 60 mg daily"),
        "meds": ("sertraline {sert} mg daily", "escitalopram 10 mg daily", "bupropion XL 150 mg daily",
                 "mirtazapine 15 mg nightly", "venlafaxine XR 75 mg daily", "duloxetine 60 mg daily"),
        "exam": ("Flat affect, poor eye contact.", "Speech slow and soft.", "Thought process linear; no psychosis.",
                 "Tearful during interview.", "Mood \"down\", affect constricted."),
        "labs": ("TSH normal.", "PHQ-9 {phq}.", "GAD-7 {gad}.", "B12 and folate normal."),
        "dx": ("Major depressive disorder, recurrent, moderate.", "MDD, severe without psychotic features.",
               "Major depression, partially responding to SSRI.", "MDD, single episode, moderate.",
               "Major depressive episode with passive SI, low acute risk."),
        "plan": ("Increase sertraline to {sert2} mg daily.", "Referral to psychotherapy (CBT).",
                 "Safety plan reviewed; crisis line information provided.", "Follow-up in 4 weeks to recheck PHQ-9.",
                 "Sleep hygiene counseling.", "Behavioral health integration referral."),
        "neg": ("Denies depressed mood or anhedonia.", "No history of depression.", "PHQ-2 negative.",
                "Denies SI/HI.", "Mood good."),
        "near": ("substance_use_disorder",),
        "clash": ("depressed mood", "SI", "insomnia", "anxiety"),
    },
}

# vitals lean toward each class but overlap heavily
VITALS_BIAS = {  # (temp range, hr range, spo2 range)
    "substance_use_disorder": ((36.6, 37.6), (84, 124), (94, 100)),
    "heart_failure": ((36.3, 37.3), (64, 112), (88, 97)),
    "pneumonia": ((37.4, 39.6), (86, 122), (87, 96)),
    "type2_diabetes": ((36.4, 37.3), (62, 96), (95, 100)),
    "copd": ((36.5, 37.6), (76, 116), (85, 95)),
    "major_depression": ((36.4, 37.2), (60, 94), (96, 100)),
}


# --------------------------------------------------------------------------------------------
# Randomness helpers built on Random.random() only.

def _pick(r, seq):
    return seq[int(r() * len(seq))]


def _pick_k(r, seq, k):
    """``k`` distinct items of ``seq`` (in drawn order); rejection sampling, as k is small."""
    n = len(seq)
    if k <= 1:
        return [seq[int(r() * n)]] if k == 1 and n else []
    if k >= n:
        k = n
    if k * 2 > n:
        idx = list(range(n))
        for i in range(k):
            j = i + int(r() * (n - i))
            idx[i], idx[j] = idx[j], idx[i]
        return [seq[i] for i in idx[:k]]
    chosen = []
    while len(chosen) < k:
        j = int(r() * n)
        if j not in chosen:
            chosen.append(j)
    return [seq[i] for i in chosen]


def _int(r, lo, hi):
    """Uniform integer in [lo, hi]."""
    return lo + int(r() * (hi - lo + 1))


def _shuffle(r, items):
    for i in range(len(items) - 1, 0, -1):
        j = int(r() * (i + 1))
        items[i], items[j] = items[j], items[i]


def _num(lo, hi):
    return lambda r: lo + int(r() * (hi - lo + 1))


def _dec(lo, span, fmt="%.1f"):
    return lambda r: fmt % (lo + r() * span)


def _one_of(*values):
    return lambda r: values[int(r() * len(values))]


# template placeholders: drawn the first time a note uses them, then fixed for that note
FILL = {
    "Pt": _one_of("Pt", "The patient"),
    "d": _num(2, 7), "w": _num(2, 8), "m": _num(2, 11), "y": _num(2, 20),
    "h": _num(6, 36), "bags": _num(3, 12), "cows": _num(6, 18), "beers": _num(6, 18),
    "auditc": _num(6, 12), "auditc_low": _num(0, 2), "bup": _one_of(8, 12, 16, 24),
    "ciwa": _num(9, 22), "meth": _one_of(40, 60, 80, 90, 110), "etoh": _num(80, 320),
    "kg": _num(2, 6), "pillows": _num(2, 4), "ef": _one_of(20, 25, 30, 35, 40),
    "lasix": _one_of(20, 40, 80), "bnp": _num(380, 1850), "cr": _dec(0.8, 1.4),
    "temp": _dec(38.1, 1.5), "wbc": _dec(11.5, 10), "pct": _dec(0.3, 4, "%.2f"),
    "lactate": _dec(1.2, 2.5), "curb": _num(0, 3), "bg1": _num(160, 210),
    "bg2": _num(220, 340), "a1c": _dec(7.2, 4), "units": _num(10, 48),
    "bmi": _num(29, 44), "ldl": _num(70, 170), "glu_high": _num(180, 390),
    "packs": _num(25, 80), "puffs": _num(4, 10), "o2": _num(1, 4), "fev1": _num(28, 62),
    "n": _num(2, 4), "ph": lambda r: "7.%d" % _int(r, 28, 37), "pco2": _num(44, 68),
    "ratio": lambda r: "0.%d" % _int(r, 38, 66), "eos": _num(100, 450), "phq": _num(12, 25), "gad": _num(6, 18),
    "sert": _one_of(50, 100), "sert2": _one_of(100, 150, 200), "k": _dec(3.4, 1.4),
    "hgb": _dec(10.5, 5), "glu": _num(82, 150),
}


class _Fills(dict):
    """Placeholder values of one note, drawn lazily from the note's random stream."""

    __slots__ = ("r",)

    def __init__(self, r, male: bool):
        super().__init__(he="he" if male else "she", He="He" if male else "She",
                         his="his" if male else "her", His="His" if male else "Her")
        self.r = r

    def __missing__(self, key):
        value = self[key] = FILL[key](self.r)
        return value


def _typo(r, word: str) -> str:
    """A character swap, drop or doubling inside an alphabetic word (length >= 5)."""
    i = 1 + int(r() * (len(word) - 2))
    kind = r()
    if kind < 0.45:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind < 0.8:
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


_VISIT_WORDS = ("follow-up", "refill", "review", "visit", "question", "check", "transfer of care", "MAT")
_STATEMENT_STARTS = ("wants", "requesting", "s/p", "can't", "feeling", "sugars", '"')
_CC_KIND: dict[str, str] = {}


def _cc_kind(cc: str) -> str:
    """How an HPI opening can quote a chief complaint: 'symptom', 'visit' or 'statement'."""
    kind = _CC_KIND.get(cc)
    if kind is None:
        if cc.startswith(_STATEMENT_STARTS):
            kind = "statement"
        elif any(w in cc for w in _VISIT_WORDS):
            kind = "visit"
        else:
            kind = "symptom"
        _CC_KIND[cc] = kind
    return kind


_OTHERS = {c: tuple(x for x in CLASSES if x != c) for c in CLASSES}
_ALLOWED: dict = {}


def _allowed(label: str, other_label: str | None) -> tuple[tuple, tuple]:
    """Social-history lines and ROS negatives that contradict neither class of the note."""
    key = (label, other_label)
    if key not in _ALLOWED:
        clash = set(SPEC[label]["clash"]) | (set(SPEC[other_label]["clash"]) if other_label else set())
        _ALLOWED[key] = (tuple(x for x in GENERIC_SOCIAL if x not in clash),
                         tuple(x for x in ROS_TERMS if x not in clash))
    return _ALLOWED[key]


# --------------------------------------------------------------------------------------------

def _note(r, label: str) -> str:
    spec = SPEC[label]
    u = r()
    mode = "weak" if u < P_WEAK else ("ambiguous" if u < P_WEAK + P_AMBIGUOUS else "strong")
    male = r() < 0.5
    f = _Fills(r, male)
    others = _OTHERS[label]
    other_label = _pick(r, spec["near"]) if mode == "ambiguous" else None
    other = SPEC[other_label] if other_label else None
    # comorbid classes: conditions from other classes listed as history (misleading cues)
    n_comorb = _pick(r, (0, 1, 1, 1, 2, 2, 3))
    comorb = _pick_k(r, others, n_comorb)
    if other_label and other_label not in comorb:
        comorb = [other_label] + comorb[:1]

    style = int(r() * 5)

    def head(key):
        forms = HEADERS[key]
        return forms[style] if r() < 0.8 else _pick(r, forms)

    age = _int(r, *spec["age"])
    sex = ("man" if male else "woman") if r() < 0.7 else ("male" if male else "female")
    intro = _pick(r, ("{a}-year-old {s}", "{a} yo {s}", "{a}-year-old {s}", "{a}yo {s}")).format(a=age, s=sex)
    if r() < 0.5:
        intro = ("An " if intro.startswith(("8", "18")) else "A ") + intro

    # ---- chief complaint
    if mode == "strong":
        cc = _pick(r, spec["cc"]) if r() < 0.85 else _pick(r, GENERIC_CC)
    elif mode == "ambiguous":
        cc = _pick(r, other["cc"]) if r() < 0.5 else _pick(r, spec["cc"])
    else:
        cc = _pick(r, GENERIC_CC) if r() < 0.6 else _pick(r, SHARED_CC)

    # ---- HPI
    comorb_words = ", ".join(SPEC[c]["pmh"][int(r() * len(SPEC[c]["pmh"]))] for c in comorb) if comorb else ""
    lead = intro + (" with hx of " + comorb_words if comorb_words and r() < 0.6 else "")
    kind = _cc_kind(cc)
    if kind == "visit":
        lead += _pick(r, (" here for ", " seen for ", " presenting for ")) + cc + "."
    elif kind == "statement":
        lead += _pick(r, (", chief concern: \"", " presenting with chief concern \"")) + cc.strip('"') + "\"."
    else:
        lead += _pick(r, (" presents with ", " c/o ", " who presents with ", " presenting with ")) + cc
        lead += " x {d} days." if "{" not in cc and r() < 0.4 else "."
    hpi = [lead]
    if mode == "strong":
        hpi += _pick_k(r, spec["hpi"], _int(r, 2, 4))
        if r() < 0.5:
            hpi.append(_pick(r, spec["soft"]))
    elif mode == "ambiguous":
        a, b = _pick_k(r, spec["hpi"], 2), _pick_k(r, other["hpi"], 2)
        hpi += [a[0], b[0], b[1]] if r() < 0.5 else [b[0], a[0], b[1]]
        if r() < 0.5:
            hpi.append(a[1])
    else:  # weak: nonspecific symptoms, the class shows only softly
        hpi += _pick_k(r, spec["soft"], _int(r, 1, 2))
        hpi.append(_pick(r, SPEC[_pick(r, others)]["soft"]))
    hpi += _pick_k(r, GENERIC_HPI, _int(r, 1, 2) + (1 if mode == "weak" else 0))
    if r() < 0.6:
        hpi.append(_pick(r, SPEC[_pick(r, [c for c in others if c not in comorb] or others)]["neg"]))
    tail = hpi[1:]
    _shuffle(r, tail)
    hpi = [hpi[0]] + tail

    # ---- PMH
    pmh = _pick_k(r, GENERIC_PMH, _int(r, 1, 4))
    for c in comorb:
        pmh.append(_pick(r, SPEC[c]["pmh"]))
    if mode != "weak" and r() < 0.6:
        pmh.append(_pick(r, spec["pmh"]))
    _shuffle(r, pmh)

    # ---- medications
    meds = _pick_k(r, GENERIC_MEDS, _int(r, 1, 4))
    for c in comorb:
        meds += _pick_k(r, SPEC[c]["home"], _int(r, 0, 2))
    if mode != "weak" or r() < 0.25:
        meds += _pick_k(r, spec["meds"], _int(r, 0, 2))
    _shuffle(r, meds)

    # ---- social / ROS
    social_ok, ros_ok = _allowed(label, other_label)
    social = _pick_k(r, social_ok, _int(r, 1, 2))
    if label == "substance_use_disorder" and mode != "weak" and r() < 0.5:
        social = [_pick(r, ("Active IV drug use.", "Daily heroin use.", "Drinks daily.",
                            "Unstably housed, staying in a shelter.",
                            "Uses fentanyl daily.", "In recovery, attends NA meetings."))] + social[:1]
    ros_neg = _pick_k(r, ros_ok, _int(r, 3, 6))
    ros = "Negative except as in HPI; denies " + ", ".join(ros_neg) + "."

    # ---- exam
    t_lo, t_hi = VITALS_BIAS[label][0]
    hr_lo, hr_hi = VITALS_BIAS[label][1]
    s_lo, s_hi = VITALS_BIAS[label][2]
    if mode == "weak":  # vitals unremarkable
        t_lo, t_hi, hr_lo, hr_hi, s_lo, s_hi = 36.5, 37.4, 68, 98, 94, 99
    spo2 = _int(r, s_lo, s_hi)
    sbp = _int(r, 104, 168)
    on_o2 = label in ("heart_failure", "pneumonia", "copd") and spo2 < 95 and r() < 0.4
    vit = "T %.1f, HR %d, BP %d/%d, RR %d, SpO2 %d%% %s." % (
        t_lo + r() * (t_hi - t_lo), _int(r, hr_lo, hr_hi), sbp, sbp * 3 // 5 + _int(r, -6, 12), _int(r, 14, 24),
        spo2, ("on %d L NC" % _int(r, 1, 4)) if on_o2 else _pick(r, ("RA", "on RA", "on room air")))
    if r() < 0.3:
        vit = "Vitals: " + vit
    exam = [vit] + _pick_k(r, GENERIC_EXAM, _int(r, 2, 4))
    if mode == "strong":
        exam += _pick_k(r, spec["exam"], _int(r, 1, 2))
    elif mode == "ambiguous":
        exam += [_pick(r, spec["exam"]), _pick(r, other["exam"])]
    elif r() < 0.5:
        exam.append(_pick(r, spec["exam"]))

    # ---- labs
    labs = _pick_k(r, GENERIC_LABS, _int(r, 0, 2))
    if mode != "weak" or r() < 0.5:
        labs += _pick_k(r, spec["labs"], _int(r, 1, 2))
    if mode == "ambiguous":
        labs.append(_pick(r, other["labs"]))

    # ---- assessment / plan
    dx = _pick(r, spec["dx"])
    ap = [dx]
    if mode == "ambiguous":
        odx = _pick(r, other["dx"])
        ap.append(_pick(r, ("Also ", "In addition, ", "Second problem: ", "Coexisting "))
                  + odx[0].lower() + odx[1:])
        if r() < 0.5:
            ap.reverse()
    elif comorb and r() < 0.4:
        c = _pick(r, comorb)
        ap.append("Hx of " + _pick(r, SPEC[c]["pmh"]) + ", stable.")
    if mode == "weak" and r() < 0.5:  # the decisive history surfaces only late in the note
        late = _pick(r, spec["hpi"])
        ap.insert(0, _pick(r, ("On further questioning: ", "Additional history: ", "Per collateral: ")) + late)
    ap += _pick_k(r, spec["plan"], _int(r, 1, 3))
    if mode == "ambiguous":
        ap.append(_pick(r, other["plan"]))
    ap += _pick_k(r, GENERIC_PLAN, _int(r, 1, 2))
    if r() < 0.3:
        ap = [f"{i}. {s}" for i, s in enumerate(ap, start=1)]

    # ---- assemble; optional sections may be omitted
    sections = []  # [key, header, list of sentences, joiner]
    if r() < 0.92 or mode == "weak":
        sections.append(["cc", head("cc"), [cc[0].upper() + cc[1:]], " "])
    sections.append(["hpi", head("hpi"), hpi, " "])
    if r() < 0.9:
        sections.append(["pmh", head("pmh"), pmh, ", "])
    if r() < 0.88:
        sections.append(["meds", head("meds"), meds, ", "])
    if r() < 0.55 or mode == "weak":
        sections.append(["social", head("social"), social, " "])
    if r() < 0.35 or mode == "weak":
        sections.append(["ros", head("ros"), [ros], " "])
    if r() < 0.9:
        sections.append(["exam", head("exam"), exam, " "])
    if r() < 0.6:
        sections.append(["labs", head("labs"), labs, " "])
    sections.append(["ap", head("ap"), ap, " " if r() < 0.5 else "\n"])

    opener = _pick(r, OPENERS)
    sep = "\n" if r() < 0.75 else " "
    for sec in sections:
        if sec[0] == "pmh" and r() < 0.3:
            sec[3] = "; "

    def render() -> str:
        lines = [opener] if opener else []
        for key, header, parts, joiner in sections:
            lines.append(header + ("\n" if joiner == "\n" else " ") + joiner.join(parts).format_map(f))
        return sep.join(lines)

    # ---- length control: fill short notes; trim long ones to MAX_CHARS, least telling parts first
    text = render()
    hpi_sec = sections[1] if sections[0][0] == "cc" else sections[0]
    while len(text.split()) < MIN_WORDS:
        hpi_sec[2].append(_pick(r, GENERIC_EXAM))
        text = render()
    return _typos(r, _fit(sections, render, text))


def _fit(sections: list, render, text: str) -> str:
    """Drop whole optional sections, then the last items of the long ones, until the note has at most
    MAX_CHARS characters; the history's opening sentence and the assessment's first line always stay."""
    for key in ("ros", "labs", "social", "pmh", "meds", "cc"):
        if len(text) <= MAX_CHARS:
            return text
        sections[:] = [sec for sec in sections if sec[0] != key]
        text = render()
    for key, keep in (("hpi", 3), ("exam", 2), ("ap", 2), ("hpi", 2), ("exam", 1), ("ap", 1), ("hpi", 1)):
        for sec in sections:
            while sec[0] == key and len(text) > MAX_CHARS and len(sec[2]) > keep:
                sec[2].pop()
                text = render()
    if len(text) > MAX_CHARS:
        sections[:] = [sec for sec in sections if sec[0] != "exam"]
        text = render()
    return text


def _typos(r, text: str) -> str:
    """A few typing slips (a swapped, dropped or doubled letter), at a low rate."""
    k = _pick(r, TYPO_COUNTS)
    if k:
        toks = text.split(" ")
        for _ in range(k):
            for _attempt in range(6):
                i = int(r() * len(toks))
                w = toks[i]
                if len(w) >= 5 and w.isalpha() and w.islower():
                    toks[i] = _typo(r, w)
                    break
        text = " ".join(toks)
    return text


def generate_notes(n_per_class: int = DEFAULT_PER_CLASS, seed: int = DEFAULT_SEED) -> list[dict]:
    """``n_per_class`` notes of every class in a seeded random order, as dicts with keys
    ``note_id`` (``syn-000001`` ...), ``text`` and ``label``. Same arguments, same notes."""
    rng = random.Random(seed)
    r = rng.random
    labels = [c for c in CLASSES for _ in range(n_per_class)]
    _shuffle(r, labels)
    width = max(6, len(str(len(labels))))
    return [{"note_id": f"syn-{i:0{width}d}", "text": _note(r, y), "label": y}
            for i, y in enumerate(labels, start=1)]


def split_notes(notes: list[dict], test_fraction: float = TEST_FRACTION) -> tuple[list[dict], list[dict]]:
    """Stratified split: in each class the first (1 - test_fraction) of notes go to train."""
    totals: dict[str, int] = {}
    for n in notes:
        totals[n["label"]] = totals.get(n["label"], 0) + 1
    seen: dict[str, int] = {}
    train, test = [], []
    for n in notes:
        y = n["label"]
        seen[y] = seen.get(y, 0) + 1
        n_train = totals[y] - round(totals[y] * test_fraction)
        (train if seen[y] <= n_train else test).append(n)
    return train, test


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(["note_id", "text", "label"])
    for row in rows:
        w.writerow([row["note_id"], row["text"], row["label"]])
    return buf.getvalue()


def write_dataset(out_dir: str | Path, n_per_class: int = DEFAULT_PER_CLASS, seed: int = DEFAULT_SEED) -> dict:
    """Generate, split and write the three CSV files into ``out_dir``; returns {file name: rows}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, test = split_notes(generate_notes(n_per_class, seed))
    forget = [n for n in train if n["label"] == SENSITIVE_CLASS]
    files = {"train.csv": train, "test.csv": test, FORGET_FILE: forget}
    for name, rows in files.items():
        (out / name).write_bytes(to_csv(rows).encode("utf-8"))
    return {name: len(rows) for name, rows in files.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Write synthetic clinical notes (train/test/forget CSVs).")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent), help="output folder (default: data_samples/)")
    p.add_argument("--per-class", type=int, default=DEFAULT_PER_CLASS, help="notes per class, train and test together")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = p.parse_args(argv)
    if args.per_class < 4:
        p.error("--per-class must be at least 4")
    counts = write_dataset(args.out, args.per_class, args.seed)
    for name, n in counts.items():
        print(f"{Path(args.out) / name}: {n} notes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
