package rules

import (
	"reflect"
	"testing"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// classStation has every registry field a rule kind may compile from set,
// so that every kind of the default rules binds to it.
func classStation(id string) schemas.Station {
	return schemas.Station{ID: id, Name: "n", River: "r", Basin: "b", District: "d", Lat: 16, Lon: 108,
		Interval:     10 * time.Minute,
		Sensors:      []schemas.Sensor{schemas.WaterLevel, schemas.Rainfall, schemas.Tilt, schemas.SoilMoisture, schemas.FloodDepth},
		AlarmLevelsM: schemas.Levels{I: 6.5, II: 8, III: 9}, FloodDepthLevelsCM: schemas.Levels{I: 20, II: 50, III: 80},
		RainCounter: false, Verified: map[string]string{"I": "x"}, SaturationPct: 40, HazardZone: 2}
}

// vary returns v changed: another value of the same type.
func vary(t *testing.T, v reflect.Value) reflect.Value {
	t.Helper()
	out := reflect.New(v.Type()).Elem()
	switch v.Kind() {
	case reflect.String:
		out.SetString(v.String() + "x")
	case reflect.Float64:
		out.SetFloat(v.Float() + 1.5)
	case reflect.Int, reflect.Int64:
		out.SetInt(v.Int() + 1)
	case reflect.Bool:
		out.SetBool(!v.Bool())
	case reflect.Slice:
		out.Set(reflect.AppendSlice(reflect.MakeSlice(v.Type(), 0, v.Len()+1), v))
		out.Set(reflect.Append(out, reflect.New(v.Type().Elem()).Elem()))
	case reflect.Map:
		out.Set(reflect.MakeMap(v.Type()))
		out.SetMapIndex(reflect.ValueOf("other"), reflect.ValueOf("y"))
	case reflect.Struct:
		out.Set(v)
		for i := range v.NumField() {
			out.Field(i).Set(vary(t, v.Field(i)))
		}
	default:
		t.Fatalf("vary: no variant for kind %s", v.Kind())
	}
	return out
}

// TestStationsOfOneClassBindEqualRules changes one registry field at a time
// and checks that the class key tells the two stations apart whenever the
// rules compiled for them differ: a kind that reads a field classKey lacks
// fails here.
func TestStationsOfOneClassBindEqualRules(t *testing.T) {
	c, err := compile(DefaultRuleSet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := classStation("S1")
	baseClass := c.compileClass("S1", &base, nil)
	if len(baseClass.bySensor) == 0 || baseClass.offline == nil || baseClass.ringLen == 0 {
		t.Fatalf("the base station binds too little to test: %+v", baseClass)
	}
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		f := typ.Field(i)
		t.Run(f.Name, func(t *testing.T) {
			st := base
			reflect.ValueOf(&st).Elem().Field(i).Set(vary(t, reflect.ValueOf(base).Field(i)))
			same := keyOf(&st) == keyOf(&base)
			equal := reflect.DeepEqual(c.compileClass("S1", &st, nil), baseClass)
			if same && !equal {
				t.Errorf("%s changes the compiled rules but not the class key: add it to classKey", f.Name)
			}
		})
	}
}

// TestClassesAreShared binds a registry: stations alike and named by no
// rule share one class, a station with its own alarm levels or an
// override has its own, and each keeps its own id, district and basin.
func TestClassesAreShared(t *testing.T) {
	a, b, own, named := classStation("A"), classStation("B"), classStation("OWN"), classStation("NAMED")
	b.District, b.Basin = "other district", "other basin"
	own.AlarmLevelsM.III = 9.5
	reg, err := schemas.NewRegistry([]schemas.Station{a, b, own, named})
	if err != nil {
		t.Fatal(err)
	}
	set := DefaultRuleSet()
	one := 3
	for i := range set.Rules {
		if set.Rules[i].Kind == KindLevel {
			set.Rules[i].Overrides = map[string]Override{"NAMED": {MinCount: &one}}
			break
		}
	}
	c, err := compile(set, reg)
	if err != nil {
		t.Fatal(err)
	}
	sa, sb, so, sn := c.byID["A"], c.byID["B"], c.byID["OWN"], c.byID["NAMED"]
	if sa.ruleClass != sb.ruleClass {
		t.Error("A and B are alike but have classes of their own")
	}
	if so.ruleClass == sa.ruleClass {
		t.Error("OWN has other alarm levels but shares A's class")
	}
	if sn.ruleClass == sa.ruleClass {
		t.Error("NAMED has an override but shares A's class")
	}
	if sb.id != "B" || sb.district != "other district" || sb.basin != "other basin" {
		t.Errorf("B's own fields: %q %q %q", sb.id, sb.district, sb.basin)
	}
	if !reflect.DeepEqual(sn.ruleClass, c.compileClass("NAMED", &named, nil)) {
		t.Error("NAMED's class is not what compiling it alone gives")
	}
}
