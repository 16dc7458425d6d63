package rulespec

import "testing"

// TestDefaultsNameEveryGradeInBothLanguages: every grade of the default
// rules has a Vietnamese and an English name, so every alert a default rule
// raises says its grade in both (issue: "every alert kind carries ... the
// grade's name in Vietnamese and English").
func TestDefaultsNameEveryGradeInBothLanguages(t *testing.T) {
	for i, r := range Default().Rules {
		if r.LevelsFromRegistry {
			if len(r.RegistryLevelNamesVI) != MaxRegistryLevelNames || len(r.RegistryLevelNamesEN) != MaxRegistryLevelNames {
				t.Errorf("rules[%d] %s %s: registry levels named %v / %v, want all three in vi and en", i, r.Kind, r.Sensor, r.RegistryLevelNamesVI, r.RegistryLevelNamesEN)
			}
		}
		for j, l := range r.Levels {
			if l.NameVI == "" || l.NameEN == "" {
				t.Errorf("rules[%d] %s %s levels[%d] %q: name_vi %q name_en %q", i, r.Kind, r.Sensor, j, l.Name, l.NameVI, l.NameEN)
			}
		}
	}
}

func TestRegistryLevelNamesInEveryLanguageAllOrNone(t *testing.T) {
	for _, key := range []string{"registry_level_names", "registry_level_names_vi", "registry_level_names_en"} {
		y := "rules:\n  - {kind: level, sensor: water_level, levels_from_registry: true, " + key + ": [a, b]}\n"
		if _, err := Parse([]byte(y)); err == nil {
			t.Errorf("%s with two names accepted", key)
		}
	}
}
